package ocimirror.config;

import static ocimirror.config.TlsConfigTest.refused;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import java.util.Map;
import ocimirror.config.AuthConfig.Access;
import org.junit.jupiter.api.Test;

class AuthConfigTest {
    @Test
    void usersNotListedMayPullOnlyByDefault() {
        AuthConfig a = new AuthConfig(Path.of("htpasswd"), null, Map.of("ci", Access.PUSH), null);
        assertTrue(a.enabled());
        assertEquals(AuthConfig.DEFAULT_REALM, a.realm());
        assertEquals(Access.PUSH, a.accessOf("ci"));
        assertEquals(Access.PULL, a.accessOf("someone"));
        assertTrue(Access.PULL.allows(false));
        assertFalse(Access.PULL.allows(true));
        assertTrue(Access.PUSH.allows(true));
        AuthConfig all = new AuthConfig(Path.of("htpasswd"), "r", null, Access.PUSH);
        assertEquals(Access.PUSH, all.accessOf("someone"));
    }

    @Test
    void disabledHasNoFile() {
        assertFalse(AuthConfig.disabled().enabled());
    }

    @Test
    void refusesBadValues() {
        refused("auth.realm: printable ASCII", () -> new AuthConfig(Path.of("h"), "say \"hi\"", null, null));
        refused("auth.realm", () -> new AuthConfig(Path.of("h"), "", null, null));
        refused("auth.users: bad user name 'a:b'", () -> new AuthConfig(Path.of("h"), null, Map.of("a:b", Access.PULL), null));
        refused("auth.users: needs auth.htpasswd", () -> new AuthConfig(null, null, Map.of("a", Access.PULL), null));
        refused("auth access: unknown value 'admin' (expected pull or push)", () -> Access.fromName("admin"));
        assertEquals(Access.PUSH, Access.fromName("PUSH"));
    }
}

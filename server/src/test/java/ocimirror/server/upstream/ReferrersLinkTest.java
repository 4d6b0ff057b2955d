package ocimirror.server.upstream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;

import java.net.URI;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

class ReferrersLinkTest {
    private static final Origin ORIGIN = Origin.of(URI.create("https://reg.test:5000"));
    private static final String PATH = "/v2/team/app/referrers/sha256:" + "a".repeat(64);

    @ParameterizedTest
    @CsvSource(delimiter = '|', value = {
            "<PATH?n=2&last=abc>; rel=\"next\"|PATH?n=2&last=abc",
            "<https://reg.test:5000PATH?page=opaque%2Btoken>; rel=\"next\"|PATH?page=opaque%2Btoken",
            "<HTTPS://REG.test:5000PATH>; rel=\"next\"|PATH"})
    void theUpstreamsOwnNextPageIsFollowed(String link, String target) {
        assertEquals(target.replace("PATH", PATH), ReferrersLink.target(link.replace("PATH", PATH), ORIGIN, PATH));
    }

    @ParameterizedTest
    @CsvSource(delimiter = '|', value = {
            "<https://evil.test:5000PATH?n=2>; rel=\"next\"",   // another host gets no credentials
            "<https://reg.test:5001PATH>; rel=\"next\"",
            "<http://reg.test:5000PATH>; rel=\"next\"",
            "<//evil.testPATH>; rel=\"next\"",
            "</v2/team/other/referrers/sha256:" + "b" + ">; rel=\"next\"",
            "</v2/team/app/blobs/sha256:x>; rel=\"next\"",
            "<PATH/../../../x>; rel=\"next\"",
            "PATH; rel=\"next\"",
            "<PATH?a=b c>; rel=\"next\"",
            "<>"})
    void anythingElseIsNotFollowed(String link) {
        assertNull(ReferrersLink.target(link.replace("PATH", PATH), ORIGIN, PATH), link);
    }
}

package ocimirror.server.image;

import com.fasterxml.jackson.databind.JsonNode;
import java.util.regex.Pattern;

/**
 * An image platform, {@code os/architecture[/variant]} as on the command line
 * ({@code linux/amd64}, {@code linux/arm64/v8}, {@code linux/arm/v7}).
 *
 * @param variant null when not given: then any variant matches
 */
public record Platform(String os, String architecture, String variant) {
    private static final Pattern WORD = Pattern.compile("[a-z0-9._-]+");

    /** @throws IllegalArgumentException for anything but two or three lower-case words */
    public static Platform parse(String s) {
        String[] parts = s == null ? new String[0] : s.split("/", -1);
        if (parts.length < 2 || parts.length > 3) {
            throw new IllegalArgumentException("platform '" + s + "': expected os/arch or os/arch/variant, e.g. linux/amd64");
        }
        for (String p : parts) {
            if (!WORD.matcher(p).matches()) {
                throw new IllegalArgumentException("platform '" + s + "': '" + p + "' is not a lower-case word");
            }
        }
        return new Platform(parts[0], parts[1], parts.length == 3 ? parts[2] : null);
    }

    /** The platform of an index entry's {@code platform} object, or null if it has none. */
    public static Platform of(JsonNode platform) {
        if (platform == null || !platform.isObject()) {
            return null;
        }
        String os = platform.path("os").asText("");
        String arch = platform.path("architecture").asText("");
        String variant = platform.path("variant").asText("");
        return new Platform(os, arch, variant.isEmpty() ? null : variant);
    }

    /**
     * Whether an image of platform {@code p} serves a request for this one: os and architecture
     * equal, and the variant too when this one names one (arm64's default variant is v8).
     */
    public boolean matches(Platform p) {
        if (p == null || !os.equals(p.os) || !architecture.equals(p.architecture)) {
            return false;
        }
        if (variant == null) {
            return true;
        }
        String theirs = p.variant == null && architecture.equals("arm64") ? "v8" : p.variant;
        return variant.equals(theirs);
    }

    @Override
    public String toString() {
        return os + "/" + architecture + (variant == null ? "" : "/" + variant);
    }
}

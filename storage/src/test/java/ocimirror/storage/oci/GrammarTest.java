package ocimirror.storage.oci;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;
import org.junit.jupiter.params.provider.ValueSource;

/** The distribution spec's grammars for digests, repository names and tags. */
class GrammarTest {
    private static final String HEX64 = "a".repeat(62) + "0f";
    private static final String HEX128 = "0123456789abcdef".repeat(8);

    @Test
    void sha256AndSha512Parse() {
        Digest d = Digest.parse("sha256:" + HEX64);
        assertEquals(Digest.Algorithm.SHA256, d.algorithm());
        assertEquals(HEX64, d.hex());
        assertEquals("sha256:" + HEX64, d.toString());
        Digest d512 = Digest.parse("sha512:" + HEX128);
        assertEquals(Digest.Algorithm.SHA512, d512.algorithm());
        assertEquals("sha512:" + HEX128, d512.toString());
        assertEquals(Digest.parse("sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"),
                Digest.sha256(new byte[0]));
    }

    static Stream<String> badDigests() {
        return Stream.of(
                "sha256:" + "A".repeat(64),                // upper-case hex
                "sha256:" + "a".repeat(63),                // too short
                "sha256:" + "a".repeat(65),                // too long
                "sha512:" + "a".repeat(64),                // sha512 with sha256 length
                "md5:d41d8cd98f00b204e9800998ecf8427e",    // unknown algorithm
                "sha384:" + "a".repeat(96),                // valid grammar, unsupported
                "sha256:../../etc",                        // traversal
                "sha256:../../../../etc/passwd/" + "a".repeat(40),
                "sha256/a",
                "sha256:",
                ":a",
                "",
                "sha256:" + "g".repeat(64),
                " sha256:" + "a".repeat(64));
    }

    @ParameterizedTest
    @MethodSource("badDigests")
    void badDigestsAreRefused(String s) {
        OciException e = assertThrows(OciException.class, () -> Digest.parse(s));
        assertEquals(OciError.DIGEST_INVALID, e.error());
        assertFalse(Digest.isDigest(s));
    }

    @Test
    void digestRecordValidatesToo() {
        assertThrows(OciException.class, () -> new Digest(Digest.Algorithm.SHA256, "../../etc"));
        assertThrows(OciException.class, () -> new Digest(null, HEX64));
        assertEquals(OciError.DIGEST_INVALID, assertThrows(OciException.class, () -> Digest.parse(null)).error());
    }

    @ParameterizedTest
    @ValueSource(strings = {"a", "library/nginx", "a/b/c/d", "my-org/my_repo", "a__b", "a.b-c", "a---b",
            "gcr.io/project/image", "0/1"})
    void validRepoNames(String s) {
        assertEquals(s, RepoName.of(s).value());
        assertTrue(RepoName.isValid(s));
    }

    @ParameterizedTest
    @ValueSource(strings = {"..", "a/..", "../a", "a/../b", "a//b", "/a", "a/", "Library/nginx", "a/B", "%2e%2e",
            "a/%2e", "a b", "a\\b", "a___b", "-a", "a-", ".a", "a..b", "a:b", "a/b\u0000", ""})
    void invalidRepoNames(String s) {
        assertFalse(RepoName.isValid(s));
        assertEquals(OciError.NAME_INVALID, assertThrows(OciException.class, () -> RepoName.of(s)).error());
    }

    @Test
    void repoNameLengthLimit() {
        String ok = "a".repeat(RepoName.MAX_LENGTH);
        assertEquals(ok, RepoName.of(ok).value());
        String tooLong = "a/".repeat(127) + "ab"; // 256 chars, grammatical otherwise
        assertEquals(256, tooLong.length());
        assertThrows(OciException.class, () -> RepoName.of(tooLong));
        assertThrows(OciException.class, () -> RepoName.of(null));
    }

    @ParameterizedTest
    @ValueSource(strings = {"latest", "v1.2.3", "_x", "A-b_c.D", "1"})
    void validTags(String s) {
        Reference r = Reference.parse(s);
        assertEquals(s, assertInstanceOf(Reference.Tag.class, r).name());
    }

    @Test
    void tagLengthLimit() {
        String max = "t".repeat(128);
        assertEquals(max, new Reference.Tag(max).name());
        assertThrows(OciException.class, () -> new Reference.Tag(max + "t"));
    }

    @ParameterizedTest
    @ValueSource(strings = {".hidden", "-dash", "", "a/b", "a b", "..", "a%2e", "tag\n"})
    void invalidTags(String s) {
        assertFalse(Reference.Tag.isValid(s));
        assertEquals(OciError.TAG_INVALID, assertThrows(OciException.class, () -> Reference.parse(s)).error());
    }

    @Test
    void referenceWithColonIsDigest() {
        Reference r = Reference.parse("sha256:" + HEX64);
        assertEquals(Digest.parse("sha256:" + HEX64), assertInstanceOf(Reference.ByDigest.class, r).digest());
        assertEquals(OciError.DIGEST_INVALID,
                assertThrows(OciException.class, () -> Reference.parse("sha256:../../etc")).error());
    }

    /** The spec's grammars as regexes: the hand-written scanners must agree with them on every input. */
    private static final java.util.regex.Pattern REPO_SPEC = java.util.regex.Pattern.compile(
            "[a-z0-9]+(?:(?:\\.|_|__|-+)[a-z0-9]+)*(?:/[a-z0-9]+(?:(?:\\.|_|__|-+)[a-z0-9]+)*)*");
    private static final java.util.regex.Pattern TAG_SPEC = java.util.regex.Pattern.compile(
            "[a-zA-Z0-9_][a-zA-Z0-9._-]{0,127}");

    @Test
    void theScannersAgreeWithTheSpecsRegexesOnRandomInput() {
        java.util.Random random = new java.util.Random(42);
        String alphabet = "ab09._-/_-.A:Z ";
        int repoValid = 0;
        int tagValid = 0;
        for (int n = 0; n < 200_000; n++) {
            StringBuilder b = new StringBuilder();
            int len = random.nextInt(12);
            for (int i = 0; i < len; i++) {
                b.append(alphabet.charAt(random.nextInt(alphabet.length())));
            }
            String s = b.toString();
            boolean repo = !s.isEmpty() && REPO_SPEC.matcher(s).matches();
            assertEquals(repo, RepoName.isValid(s), () -> "repository name '" + s + "'");
            boolean tag = TAG_SPEC.matcher(s).matches();
            assertEquals(tag, Reference.Tag.isValid(s), () -> "tag '" + s + "'");
            repoValid += repo ? 1 : 0;
            tagValid += tag ? 1 : 0;
        }
        assertTrue(repoValid > 1000 && tagValid > 1000, "the input reaches both sides: " + repoValid + ", " + tagValid);
    }
}

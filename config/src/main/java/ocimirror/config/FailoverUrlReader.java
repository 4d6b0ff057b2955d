package ocimirror.config;

import com.fasterxml.jackson.annotation.JsonCreator;
import java.net.URI;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * Reads an upstream's {@code urls}: each entry a plain URL string or {@code {url, caCert,
 * credentials}}. The upstream-level {@code url}, {@code caCert} and {@code credentials} are
 * refused beside it, so that it is always plain which URL a CA or a secret belongs to.
 */
final class FailoverUrlReader {

    private final UpstreamReader reader;

    FailoverUrlReader(UpstreamReader reader) {
        this.reader = reader;
    }

    List<UpstreamUrl> read(String at, UpstreamReader.UpstreamSection s, boolean plainHttp) throws ConfigException {
        String field = at + ".urls";
        if (s.url() != null) {
            throw reader.error(at + ".url", "give either url or urls, not both");
        }
        if (s.caCert() != null) {
            throw reader.error(at + ".caCert", "with urls, give caCert per URL (urls[i].caCert)");
        }
        if (s.credentials() != null) {
            throw reader.error(at + ".credentials", "with urls, give credentials per URL (urls[i].credentials), so that"
                    + " no secret goes to a host it was not meant for");
        }
        if (s.urls().isEmpty()) {
            throw reader.error(field, "must not be empty (give at least one URL)");
        }
        List<UpstreamUrl> out = new ArrayList<>();
        Map<String, Integer> seen = new HashMap<>();
        for (int i = 0; i < s.urls().size(); i++) {
            String f = field + "[" + i + "]";
            UrlSection u = s.urls().get(i);
            if (u == null) {
                throw reader.error(f, "expected a URL or {url, caCert, credentials}");
            }
            if (u.url() == null) {
                throw reader.error(f + ".url", "missing");
            }
            URI url = reader.uri(f, u.url(), plainHttp);
            Path caCert = u.caCert() == null ? null : reader.file(f + ".caCert", u.caCert());
            UpstreamUrl entry = new UpstreamUrl(url, caCert, reader.credentials(f + ".credentials", u.credentials()));
            Integer before = seen.putIfAbsent(entry.origin(), i);
            if (before != null) {
                throw reader.error(f, "'" + u.url() + "' is listed twice (also " + field + "[" + before + "])");
            }
            out.add(entry);
        }
        return out;
    }

    /** One entry of {@code urls}: a string is a URL without its own CA or credentials. */
    record UrlSection(String url, String caCert, UpstreamReader.CredentialsSection credentials) {

        @JsonCreator(mode = JsonCreator.Mode.DELEGATING)
        static UrlSection of(String url) {
            return new UrlSection(url, null, null);
        }
    }
}

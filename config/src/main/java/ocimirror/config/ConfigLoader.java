package ocimirror.config;

import com.fasterxml.jackson.core.JacksonException;
import com.fasterxml.jackson.core.JsonLocation;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.JsonMappingException;
import com.fasterxml.jackson.databind.MapperFeature;
import com.fasterxml.jackson.databind.cfg.CoercionAction;
import com.fasterxml.jackson.databind.cfg.CoercionInputShape;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.exc.MismatchedInputException;
import com.fasterxml.jackson.databind.exc.UnrecognizedPropertyException;
import com.fasterxml.jackson.databind.json.JsonMapper;
import com.fasterxml.jackson.databind.type.LogicalType;
import com.fasterxml.jackson.dataformat.yaml.YAMLMapper;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collection;
import java.util.List;
import java.util.Locale;
import java.util.stream.Collectors;

/**
 * Reads a configuration file (YAML, or JSON if the name ends in {@code .json}) into a
 * {@link MirrorConfig}. The file is the whole truth: keys left out take the values of
 * {@link MirrorConfig#defaults()} (so a file without {@code upstreams} is a plain registry,
 * not the embedded configuration). Unknown keys and wrongly typed values are errors, and every
 * error names the file and the path of the field, e.g.
 * {@code mirror.yaml: upstreams[1].aliases[0]: 'GCR.io' is not a lower-case host name}.
 *
 * <pre>
 * listen: "0.0.0.0:5000"
 * data: /var/lib/ocimirror        # relative to the working directory
 * storage: {deleteEnabled: true}
 * limits: {maxManifestBytes: 4194304, maxHeaderBytes: 16384, maxUploadBytes: 68719476736, idleTimeoutSeconds: 300,
 *          requestHeadTimeout: 30s, requestBodyTimeout: 60s}
 * upstreams:
 *   - name: docker.io               # lower case; prefixes the cache keys
 *     url: https://registry-1.docker.io
 *     aliases: [docker.io, registry-1.docker.io, index.docker.io]
 *     default: true
 *     tagTtl: 10m                   # 30s, 1h, PT10M or seconds
 *   - name: corp
 *     url: https://registry.corp:5000
 *     aliases: [registry.corp:5000]
 *     caCert: corp-ca.pem           # caCert, dockerConfig, passwordFile: relative to this file
 *     credentials: {username: robot, passwordFile: corp-password}   # or {dockerConfig: config.json}
 *     plainHttp: false
 *     timeouts: {connect: 10s, firstByte: 30s, idle: 60s}
 *     maxRetries: 2
 *     allow: [team/**]              # globs on the path at the upstream; deny wins over allow
 *     deny: [team/secret-*]
 * hosted: [local]
 * pullThrough: {prefetchLayers: true, negativeCacheTtl: 30s, prefetch: [gcr.io/team/app:1],
 *               prefetchPlatforms: [linux/amd64]}
 * tls:                              # absent: mode generate (HTTPS, CA under &lt;data&gt;/pki)
 *   mode: generate                  # generate | files | off
 *   hostNames: [mirror.example.com] # files: relative to this file, see TlsConfig
 *   clientCaFile: clients-ca.pem
 *   clientAuth: require             # none | optional | require
 * auth:                             # absent: no client authentication
 *   htpasswd: htpasswd              # bcrypt entries (htpasswd -B)
 *   realm: ocimirror
 *   defaultAccess: pull             # pull | push
 *   users: {ci: push}
 * metrics: {public: true, adminListen: "127.0.0.1:9090", cacheSizeInterval: 5m}   # see ObservabilityConfig
 * log: {format: text}               # text | json
 *   audit: {output: audit.log, blobs: false, maxSize: 100MiB, keep: 5}   # or output: stdout
 * cache:                            # absent: unbounded; see CacheReader
 *   maxSize: 50GiB
 *   highWatermark: 0.90
 *   lowWatermark: 0.80
 *   pins: [docker.io/library/alpine:3.20]
 * gc: {gracePeriod: 1h, interval: 1h}
 * shutdown: {gracePeriod: 30s}      # how long a stop lets requests in flight finish; 0: cut at once
 * warmup: {enabled: true, maxDuration: 30s}   # serve: compile the request paths before /readyz is ready
 * storage: {s3: {...}, tierMaxSize: 50GiB}    # several replicas: blobs in S3 (see SharedReader)
 * metadata: {postgres: {...}}                # and metadata in PostgreSQL, both or neither
 * </pre>
 */
public final class ConfigLoader {

    private ConfigLoader() {
    }

    /** Loads {@code file}. */
    public static MirrorConfig load(Path file) throws ConfigException {
        String text;
        try {
            text = Files.readString(file);
        } catch (NoSuchFileException e) {
            throw new ConfigException(file + ": no such file");
        } catch (IOException e) {
            throw new ConfigException(file + ": cannot read: " + e.getMessage());
        }
        boolean json = file.getFileName() != null
                && file.getFileName().toString().toLowerCase(Locale.ROOT).endsWith(".json");
        Path dir = file.toAbsolutePath().getParent();
        return parse(text, file.toString(), json, dir == null ? Path.of("") : dir);
    }

    /** Parses {@code text}; {@code source} names it in error messages; relative file references are relative to the working directory. */
    public static MirrorConfig parse(String text, String source, boolean json) throws ConfigException {
        return parse(text, source, json, Path.of("").toAbsolutePath());
    }

    /** Parses {@code text}, resolving relative file paths (caCert, dockerConfig, passwordFile, tls.*File, auth.htpasswd) against {@code baseDir}. */
    public static MirrorConfig parse(String text, String source, boolean json, Path baseDir) throws ConfigException {
        ObjectMapper mapper = (json ? JsonMapper.builder() : YAMLMapper.builder())
                .enable(DeserializationFeature.FAIL_ON_UNKNOWN_PROPERTIES)
                .enable(DeserializationFeature.FAIL_ON_NULL_FOR_PRIMITIVES)
                .disable(DeserializationFeature.ACCEPT_FLOAT_AS_INT)
                .disable(MapperFeature.ALLOW_COERCION_OF_SCALARS)
                // Nor a number or boolean where a string belongs: "hosted: [3]" is a mistake.
                .withCoercionConfig(LogicalType.Textual, c -> c
                        .setCoercion(CoercionInputShape.Integer, CoercionAction.Fail)
                        .setCoercion(CoercionInputShape.Float, CoercionAction.Fail)
                        .setCoercion(CoercionInputShape.Boolean, CoercionAction.Fail))
                .build();
        FileConfig raw;
        try {
            raw = text.isBlank() ? null : mapper.readValue(text, FileConfig.class);
        } catch (JsonMappingException e) {
            throw new ConfigException(source + ": " + describe(e));
        } catch (JsonProcessingException e) {
            throw new ConfigException(source + ": " + where(e) + "syntax error: " + e.getOriginalMessage());
        }
        return raw == null ? MirrorConfig.defaults() : toConfig(raw, source, baseDir);
    }

    private static MirrorConfig toConfig(FileConfig raw, String source, Path baseDir) throws ConfigException {
        MirrorConfig d = MirrorConfig.defaults();
        MirrorConfig.Listen listen = d.listen();
        if (raw.listen() != null) {
            try {
                listen = MirrorConfig.Listen.parse(raw.listen());
            } catch (IllegalArgumentException e) {
                throw new ConfigException(source + ": listen: " + e.getMessage());
            }
        }
        Path data = d.dataDir();
        if (raw.data() != null) {
            if (raw.data().isBlank()) {
                throw new ConfigException(source + ": data: must not be empty");
            }
            data = Path.of(raw.data());
        }
        MirrorConfig.Storage storage = d.storage();
        if (raw.storage() != null && raw.storage().deleteEnabled() != null) {
            storage = new MirrorConfig.Storage(raw.storage().deleteEnabled());
        }
        UpstreamReader reader = new UpstreamReader(source, baseDir);
        MirrorConfig.Limits l = d.limits();
        if (raw.limits() != null) {
            LimitsSection r = raw.limits();
            try {
                l = new MirrorConfig.Limits(
                        positive(source, "limits.maxManifestBytes", r.maxManifestBytes(), l.maxManifestBytes()),
                        positive(source, "limits.maxHeaderBytes", r.maxHeaderBytes(), l.maxHeaderBytes()),
                        positive(source, "limits.maxUploadBytes", r.maxUploadBytes(), l.maxUploadBytes()),
                        positive(source, "limits.idleTimeoutSeconds", r.idleTimeoutSeconds(), l.idleTimeoutSeconds()),
                        r.requestHeadTimeout() == null ? null
                                : reader.duration("limits.requestHeadTimeout", r.requestHeadTimeout()),
                        r.requestBodyTimeout() == null ? null
                                : reader.duration("limits.requestBodyTimeout", r.requestBodyTimeout()));
            } catch (IllegalArgumentException e) {
                throw new ConfigException(source + ": " + e.getMessage());   // the record names the field
            }
        }
        List<UpstreamConfig> upstreams = new ArrayList<>();
        if (raw.upstreams() != null) {
            for (int i = 0; i < raw.upstreams().size(); i++) {
                upstreams.add(reader.read(raw.upstreams().get(i), i));
            }
        }
        List<String> hosted = raw.hosted() == null ? List.of() : raw.hosted();
        for (int i = 0; i < hosted.size(); i++) {
            if (hosted.get(i) == null) {
                throw new ConfigException(source + ": hosted[" + i + "]: expected a string");
            }
        }
        MirrorConfig.PullThrough pt = d.pullThrough();
        if (raw.pullThrough() != null) {
            PullThroughSection r = raw.pullThrough();
            List<String> prefetch = r.prefetch() == null ? List.of() : r.prefetch();
            for (int i = 0; i < prefetch.size(); i++) {
                if (prefetch.get(i) == null) {
                    throw new ConfigException(source + ": pullThrough.prefetch[" + i + "]: expected a string");
                }
            }
            List<String> platforms = r.prefetchPlatforms() == null ? List.of() : r.prefetchPlatforms();
            for (int i = 0; i < platforms.size(); i++) {
                if (platforms.get(i) == null) {
                    throw new ConfigException(source + ": pullThrough.prefetchPlatforms[" + i + "]: expected a string");
                }
            }
            try {
                pt = new MirrorConfig.PullThrough(
                        r.prefetchLayers() == null ? pt.prefetchLayers() : r.prefetchLayers(),
                        r.negativeCacheTtl() == null ? pt.negativeCacheTtl()
                                : reader.duration("pullThrough.negativeCacheTtl", r.negativeCacheTtl()),
                        prefetch, platforms);
            } catch (IllegalArgumentException e) {
                throw new ConfigException(source + ": " + e.getMessage());
            }
        }
        TlsAuthReader security = new TlsAuthReader(source, reader);
        TlsConfig tls = security.tls(raw.tls());
        AuthConfig auth = security.auth(raw.auth());
        ObservabilityConfig obs = ObservabilityReader.read(source, baseDir, reader, raw.metrics(), raw.log());
        CacheReader cacheReader = new CacheReader(source);
        CacheConfig cache = cacheReader.cache(raw.cache());
        GcConfig gc = cacheReader.gc(raw.gc());
        MirrorConfig.Shutdown shutdown = d.shutdown();
        if (raw.shutdown() != null && raw.shutdown().gracePeriod() != null) {
            shutdown = new MirrorConfig.Shutdown(reader.duration("shutdown.gracePeriod", raw.shutdown().gracePeriod()));
        }
        MirrorConfig.Warmup warmup = d.warmup();
        if (raw.warmup() != null) {
            WarmupSection r = raw.warmup();
            Duration max = r.maxDuration() == null ? warmup.maxDuration()
                    : reader.duration("warmup.maxDuration", r.maxDuration());
            if (max.isZero() || max.isNegative()) {
                throw new ConfigException(source + ": warmup.maxDuration: must be positive, got " + max);
            }
            warmup = new MirrorConfig.Warmup(r.enabled() == null ? warmup.enabled() : r.enabled(), max);
        }
        SharedBackends shared = new SharedReader(source, reader).read(
                raw.storage() == null ? null : raw.storage().s3(),
                raw.storage() == null ? null : raw.storage().tierMaxSize(), raw.metadata(), false);
        try {
            return new MirrorConfig(listen, data, storage, l, upstreams, hosted, pt, tls, auth, obs, cache, gc, shutdown,
                    warmup, shared);
        } catch (IllegalArgumentException e) {
            // The cross-field rules: MirrorConfig words them with the field path already.
            throw new ConfigException(source + ": " + e.getMessage());
        }
    }

    private static int positive(String source, String field, Integer value, int fallback) throws ConfigException {
        if (value == null) {
            return fallback;
        }
        if (value <= 0) {
            throw new ConfigException(source + ": " + field + ": must be positive, got " + value);
        }
        return value;
    }

    private static long positive(String source, String field, Long value, long fallback) throws ConfigException {
        if (value == null) {
            return fallback;
        }
        if (value <= 0) {
            throw new ConfigException(source + ": " + field + ": must be positive, got " + value);
        }
        return value;
    }

    private static String describe(JsonMappingException e) {
        String path = e.getPath().stream()
                .map(r -> r.getFieldName() != null ? r.getFieldName() : "[" + r.getIndex() + "]")
                .collect(Collectors.joining(".")).replace(".[", "[");
        String prefix = path.isEmpty() ? where(e) : path + ": ";
        if (e instanceof UnrecognizedPropertyException u) {
            String known = u.getKnownPropertyIds() == null ? "" : u.getKnownPropertyIds().stream()
                    .map(Object::toString).sorted().collect(Collectors.joining(", "));
            return prefix + "unknown field" + (known.isEmpty() ? "" : " (expected one of: " + known + ")");
        }
        if (e instanceof MismatchedInputException m && m.getTargetType() != null) {
            return prefix + "expected " + typeName(m.getTargetType());
        }
        return prefix + e.getOriginalMessage();
    }

    private static String where(JacksonException e) {
        JsonLocation loc = e.getLocation();
        return loc == null || loc.getLineNr() < 0 ? "" : "line " + loc.getLineNr() + ", column " + loc.getColumnNr() + ": ";
    }

    private static String typeName(Class<?> type) {
        if (type == Integer.class || type == int.class || type == Long.class || type == long.class) {
            return "an integer";
        }
        if (type == Boolean.class || type == boolean.class) {
            return "a boolean (true or false)";
        }
        if (type == String.class) {
            return "a string";
        }
        if (Collection.class.isAssignableFrom(type) || type.isArray()) {
            return "a list";
        }
        return "a mapping";
    }

    // The file's shape: boxed fields, so that "absent" (null) takes the default.
    record FileConfig(String listen, String data, StorageSection storage, LimitsSection limits,
                      List<UpstreamReader.UpstreamSection> upstreams, List<String> hosted,
                      PullThroughSection pullThrough, TlsAuthReader.TlsSection tls,
                      TlsAuthReader.AuthSection auth, ObservabilityReader.MetricsSection metrics,
                      ObservabilityReader.LogSection log, CacheReader.CacheSection cache, CacheReader.GcSection gc,
                      ShutdownSection shutdown, WarmupSection warmup, SharedReader.MetadataSection metadata) {
    }

    record WarmupSection(Boolean enabled, Object maxDuration) {
    }

    record ShutdownSection(Object gracePeriod) {
    }

    record PullThroughSection(Boolean prefetchLayers, Object negativeCacheTtl, List<String> prefetch,
                              List<String> prefetchPlatforms) {
    }

    record StorageSection(Boolean deleteEnabled, SharedReader.S3Section s3, Object tierMaxSize) {
    }

    record LimitsSection(Integer maxManifestBytes, Integer maxHeaderBytes, Long maxUploadBytes,
                         Integer idleTimeoutSeconds, Object requestHeadTimeout, Object requestBodyTimeout) {
    }
}

package ocimirror.config;

import com.fasterxml.jackson.annotation.JsonProperty;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;

/**
 * Turns the {@code metrics:} and {@code log:} sections of a configuration file into an
 * {@link ObservabilityConfig}, every error naming the file and the field.
 */
final class ObservabilityReader {

    private ObservabilityReader() {
    }

    static ObservabilityConfig read(String source, Path baseDir, UpstreamReader durations, MetricsSection m, LogSection l)
            throws ConfigException {
        ObservabilityConfig.Metrics metrics = ObservabilityConfig.Metrics.defaults();
        if (m != null) {
            MirrorConfig.Listen admin = null;
            if (m.adminListen() != null) {
                try {
                    admin = MirrorConfig.Listen.parse(m.adminListen());
                } catch (IllegalArgumentException e) {
                    throw new ConfigException(source + ": metrics.adminListen: " + e.getMessage());
                }
            }
            Duration interval = m.cacheSizeInterval() == null ? null
                    : durations.duration("metrics.cacheSizeInterval", m.cacheSizeInterval());
            try {
                metrics = new ObservabilityConfig.Metrics(m.publicMetrics() == null || m.publicMetrics(), admin, interval);
            } catch (IllegalArgumentException e) {
                throw new ConfigException(source + ": " + e.getMessage());
            }
        }
        ObservabilityConfig.Log log = ObservabilityConfig.Log.defaults();
        if (l != null) {
            try {
                ObservabilityConfig.LogFormat format = l.format() == null ? log.format()
                        : ObservabilityConfig.LogFormat.fromName(l.format(), "log.format");
                log = new ObservabilityConfig.Log(format, audit(source, baseDir, l.audit()));
            } catch (IllegalArgumentException e) {
                throw new ConfigException(source + ": " + e.getMessage());
            }
        }
        return new ObservabilityConfig(metrics, log);
    }

    /** {@code log.audit}: {@code output} is {@code stdout} or a file path (relative to the config file). */
    private static ObservabilityConfig.Audit audit(String source, Path baseDir, AuditSection a) throws ConfigException {
        if (a == null) {
            return null;
        }
        if (a.output() == null || a.output().isBlank()) {
            throw new ConfigException(source + ": log.audit.output: required: stdout, or the path of the audit file");
        }
        Path file = null;
        if (!a.output().equals("stdout")) {
            file = baseDir.resolve(a.output());
            if (Files.isDirectory(file)) {
                throw new ConfigException(source + ": log.audit.output: " + file + " is a directory; name a file in it");
            }
        }
        long maxSize = ObservabilityConfig.Audit.DEFAULT_MAX_SIZE;
        if (a.maxSize() != null) {
            try {
                maxSize = Sizes.parse(a.maxSize());
            } catch (IllegalArgumentException e) {
                throw new ConfigException(source + ": log.audit.maxSize: " + e.getMessage());
            }
        }
        return new ObservabilityConfig.Audit(file, a.blobs() != null && a.blobs(), maxSize,
                a.keep() == null ? ObservabilityConfig.Audit.DEFAULT_KEEP : a.keep());
    }

    // The file's shape: boxed fields, so that "absent" (null) takes the default.
    record MetricsSection(@JsonProperty("public") Boolean publicMetrics, String adminListen, Object cacheSizeInterval) {
    }

    record LogSection(String format, AuditSection audit) {
    }

    record AuditSection(String output, Boolean blobs, Object maxSize, Integer keep) {
    }
}

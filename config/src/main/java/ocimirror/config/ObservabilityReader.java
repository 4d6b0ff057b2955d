package ocimirror.config;

import com.fasterxml.jackson.annotation.JsonProperty;
import java.time.Duration;

/**
 * Turns the {@code metrics:} and {@code log:} sections of a configuration file into an
 * {@link ObservabilityConfig}, every error naming the file and the field.
 */
final class ObservabilityReader {

    private ObservabilityReader() {
    }

    static ObservabilityConfig read(String source, UpstreamReader durations, MetricsSection m, LogSection l)
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
        if (l != null && l.format() != null) {
            try {
                log = new ObservabilityConfig.Log(ObservabilityConfig.LogFormat.fromName(l.format(), "log.format"));
            } catch (IllegalArgumentException e) {
                throw new ConfigException(source + ": " + e.getMessage());
            }
        }
        return new ObservabilityConfig(metrics, log);
    }

    // The file's shape: boxed fields, so that "absent" (null) takes the default.
    record MetricsSection(@JsonProperty("public") Boolean publicMetrics, String adminListen, Object cacheSizeInterval) {
    }

    record LogSection(String format) {
    }
}

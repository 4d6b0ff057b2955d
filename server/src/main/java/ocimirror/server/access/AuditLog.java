package ocimirror.server.access;

import ch.qos.logback.classic.AsyncAppender;
import ch.qos.logback.classic.Level;
import ch.qos.logback.classic.LoggerContext;
import ch.qos.logback.classic.encoder.PatternLayoutEncoder;
import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.core.ConsoleAppender;
import ch.qos.logback.core.OutputStreamAppender;
import ch.qos.logback.core.rolling.FixedWindowRollingPolicy;
import ch.qos.logback.core.rolling.RollingFileAppender;
import ch.qos.logback.core.rolling.SizeBasedTriggeringPolicy;
import ch.qos.logback.core.util.Duration;
import ch.qos.logback.core.util.FileSize;
import com.fasterxml.jackson.core.JsonFactory;
import com.fasterxml.jackson.core.JsonGenerator;
import java.io.IOException;
import java.io.StringWriter;
import java.io.UncheckedIOException;
import java.time.Clock;
import java.time.Instant;
import java.util.Objects;
import java.util.UUID;
import ocimirror.config.ObservabilityConfig;
import ocimirror.server.route.OciRoute;
import ocimirror.server.route.OciRouteParser;
import ocimirror.storage.oci.Reference;
import org.slf4j.LoggerFactory;

/**
 * The audit log of pulls ({@code log.audit}): one JSON object per line for each manifest GET
 * (and each blob GET with {@code blobs: true}), answered or refused, with who asked for what and
 * what they got: {@code time} (arrival, UTC), {@code client} (address:port), {@code user} (the
 * authenticated user, or null), {@code method}, {@code name} and {@code reference} as the client
 * asked for them (the path's repository and tag or digest), {@code ns} (containerd's parameter,
 * or null), {@code upstream} (null when hosted), {@code digest} (the {@code Docker-Content-Digest}
 * served, or null), {@code cache} (hit, miss, stale, coalesced, negative, or null), {@code status},
 * {@code bytes} (body bytes sent), {@code request_id}, and {@code aborted} when the connection
 * closed before the response ended.
 *
 * <p>Written through Logback, on a logger of its own that no other appender sees: a size-rolled
 * file ({@code audit.log}, {@code audit.log.1} … {@code audit.log.<keep>}) or standard output,
 * behind an asynchronous appender, so the event loop never waits for the disk. If the disk falls
 * so far behind that its queue ({@value #QUEUE} lines) is full, lines are dropped rather than
 * requests delayed (Logback's AsyncAppender does not count them).
 */
public final class AuditLog implements AutoCloseable {
    static final int QUEUE = 8192;
    /** Logback looks at the size once a minute by default: a busy mirror would overshoot maxSize by a minute of lines. */
    private static final java.time.Duration SIZE_CHECK = java.time.Duration.ofSeconds(1);
    private static final JsonFactory JSON = new JsonFactory();

    private final ch.qos.logback.classic.Logger logger;
    private final boolean blobs;
    private final Clock clock;

    private AuditLog(ch.qos.logback.classic.Logger logger, boolean blobs, Clock clock) {
        this.logger = logger;
        this.blobs = blobs;
        this.clock = clock;
    }

    /**
     * Opens the audit log {@code config} describes; null when it is null (off).
     *
     * @throws IllegalStateException if Logback is not the logging back end
     */
    public static AuditLog open(ObservabilityConfig.Audit config, Clock clock) {
        return open(config, clock, SIZE_CHECK);
    }

    /** As {@link #open(ObservabilityConfig.Audit, Clock)}, looking at the file's size at most every {@code sizeCheck}. */
    static AuditLog open(ObservabilityConfig.Audit config, Clock clock, java.time.Duration sizeCheck) {
        if (config == null) {
            return null;
        }
        if (!(LoggerFactory.getILoggerFactory() instanceof LoggerContext ctx)) {
            throw new IllegalStateException("log.audit needs Logback as the logging back end");
        }
        PatternLayoutEncoder encoder = new PatternLayoutEncoder();
        encoder.setContext(ctx);
        encoder.setPattern("%msg%n");
        encoder.start();
        OutputStreamAppender<ILoggingEvent> out = config.file() == null ? stdout(ctx) : rolling(ctx, config, sizeCheck);
        out.setEncoder(encoder);
        out.start();
        if (!out.isStarted()) {
            throw new IllegalStateException("log.audit: cannot write " + config.file());
        }
        AsyncAppender async = new AsyncAppender();
        async.setContext(ctx);
        async.setName("audit-async");
        async.setQueueSize(QUEUE);
        async.setDiscardingThreshold(0); // INFO lines are the point: none dropped while there is room
        async.setNeverBlock(true);
        async.addAppender(out);
        async.start();
        // One logger per audit log: two servers in one process (tests) each write their own file.
        ch.qos.logback.classic.Logger logger = ctx.getLogger("ocimirror.audit." + UUID.randomUUID());
        logger.setAdditive(false);
        logger.setLevel(Level.INFO);
        logger.addAppender(async);
        return new AuditLog(logger, config.blobs(), Objects.requireNonNull(clock, "clock"));
    }

    private static OutputStreamAppender<ILoggingEvent> stdout(LoggerContext ctx) {
        ConsoleAppender<ILoggingEvent> console = new ConsoleAppender<>();
        console.setContext(ctx);
        console.setName("audit-stdout");
        console.setTarget("System.out");
        return console;
    }

    private static OutputStreamAppender<ILoggingEvent> rolling(LoggerContext ctx, ObservabilityConfig.Audit config,
                                                               java.time.Duration sizeCheck) {
        RollingFileAppender<ILoggingEvent> file = new RollingFileAppender<>();
        file.setContext(ctx);
        file.setName("audit-file");
        file.setFile(config.file().toString());
        FixedWindowRollingPolicy window = new FixedWindowRollingPolicy();
        window.setContext(ctx);
        window.setParent(file);
        window.setFileNamePattern(config.file() + ".%i");
        window.setMinIndex(1);
        window.setMaxIndex(config.keep());
        window.start();
        SizeBasedTriggeringPolicy<ILoggingEvent> size = new SizeBasedTriggeringPolicy<>();
        size.setContext(ctx);
        size.setMaxFileSize(new FileSize(config.maxSize()));
        size.setCheckIncrement(Duration.buildByMilliseconds(sizeCheck.toMillis()));
        size.start();
        file.setRollingPolicy(window);
        file.setTriggeringPolicy(size);
        return file;
    }

    /** Whether {@code r} is one the audit log is about: a manifest GET, or a blob GET if asked. */
    boolean wants(RequestRecord r) {
        OciRouteParser.ParsedRequest p = r.parsed();
        return p != null && "GET".equals(r.method)
                && (p.route() instanceof OciRoute.Manifest || blobs && p.route() instanceof OciRoute.Blob);
    }

    /** Writes {@code r}'s line, which took {@code nanos} from its arrival. */
    void log(RequestRecord r, long nanos, boolean aborted) {
        OciRouteParser.ParsedRequest p = r.parsed();
        String name;
        String reference;
        if (p.route() instanceof OciRoute.Manifest m) {
            name = m.repo().toString();
            reference = m.reference() instanceof Reference.Tag t ? t.name()
                    : ((Reference.ByDigest) m.reference()).digest().toString();
        } else {
            OciRoute.Blob b = (OciRoute.Blob) p.route();
            name = b.repo().toString();
            reference = b.digest().toString();
        }
        StringWriter line = new StringWriter(320);
        try (JsonGenerator g = JSON.createGenerator(line)) {
            g.writeStartObject();
            g.writeStringField("time", Instant.ofEpochMilli(clock.millis() - nanos / 1_000_000).toString());
            g.writeStringField("client", r.client);
            g.writeStringField("user", r.user());
            g.writeStringField("method", r.method);
            g.writeStringField("name", name);
            g.writeStringField("reference", reference);
            g.writeStringField("ns", p.ns());
            g.writeStringField("upstream", r.upstream());
            g.writeStringField("digest", r.digest);
            g.writeStringField("cache", r.cache() == null ? null : r.cache().label());
            g.writeNumberField("status", r.status);
            g.writeNumberField("bytes", r.bytes);
            g.writeStringField("request_id", r.id);
            if (aborted) {
                g.writeBooleanField("aborted", true);
            }
            g.writeEndObject();
        } catch (IOException e) {
            throw new UncheckedIOException(e); // a StringWriter does not fail
        }
        logger.info(line.toString());
    }

    /** Writes out what is queued and closes the file. */
    @Override
    public void close() {
        logger.detachAndStopAllAppenders();
    }
}

package ocimirror.storage.s3;

import static java.util.Objects.requireNonNull;

import java.io.IOException;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Aborts the multipart uploads under the store's prefix that were started more than a given age
 * ago: those of a replica that died mid-upload (a live one aborts its own). An incomplete upload
 * is invisible but its parts are stored, and billed, until it is aborted.
 *
 * <p>The age must exceed the longest upload a live replica may still be running (a large layer
 * over a slow upstream): aborting a live upload makes its commit fail. A day is a safe default.
 * A bucket lifecycle rule ({@code AbortIncompleteMultipartUpload}) does the same job on AWS; this
 * covers the S3 implementations without one.
 *
 * <p>Stateless apart from its clock; safe to run from several replicas at once (aborting an upload
 * already aborted is not an error).
 */
public final class MultipartJanitor {
    private static final Logger log = LoggerFactory.getLogger(MultipartJanitor.class);

    private final S3Api api;
    private final S3Keys keys;
    private final Clock clock;

    MultipartJanitor(S3Api api, S3Keys keys, Clock clock) {
        this.api = requireNonNull(api, "api");
        this.keys = requireNonNull(keys, "keys");
        this.clock = requireNonNull(clock, "clock");
    }

    /** Lists the uploads under the prefix and aborts those older than {@code age}; how many it aborted. */
    public int abortOlderThan(Duration age) throws IOException {
        Instant cutoff = clock.instant().minus(age);
        int aborted = 0;
        for (S3Api.Upload u : api.listUploads(keys.blobsPrefix())) {
            // An upload without a start time (a lax S3 implementation) is left alone: it may be live.
            if (u.initiated() != null && u.initiated().isBefore(cutoff)) {
                api.abortMultipart(u.key(), u.uploadId());
                aborted++;
                log.info("aborted multipart upload {} of {}, started {}", u.uploadId(), u.key(), u.initiated());
            }
        }
        return aborted;
    }
}

package ocimirror.storage;

import static java.nio.charset.StandardCharsets.UTF_8;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Instant;
import java.time.ZoneOffset;
import java.util.Optional;
import ocimirror.storage.blob.BlobInfo;
import ocimirror.storage.blob.BlobWriter;
import ocimirror.storage.meta.UploadRecord;
import ocimirror.storage.oci.Digest;
import ocimirror.storage.oci.RepoName;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class StorageTest {
    private static final Clock CLOCK = Clock.fixed(Instant.EPOCH, ZoneOffset.UTC);
    private static final RepoName REPO = RepoName.of("r");

    @TempDir
    Path data;

    @Test
    void opensTheDocumentedLayoutAndForgetsUploadsOnReopen() throws IOException {
        byte[] content = "layer".getBytes(UTF_8);
        BlobInfo blob;
        Path leftover;
        try (Storage storage = Storage.open(data, CLOCK)) {
            assertSame(CLOCK, storage.clock());
            assertTrue(Files.isDirectory(data.resolve("meta")));
            assertTrue(Files.isDirectory(data.resolve("ingest")));
            blob = storage.blobs().put(content, null);
            assertEquals(data.toAbsolutePath().resolve("blobs/sha256/" + blob.digest().hex().substring(0, 2)
                    + "/" + blob.digest().hex()), blob.path());
            storage.metadata().linkBlob(REPO, blob.digest());
            BlobWriter upload = storage.blobs().newWriter(Digest.Algorithm.SHA256);
            upload.write(ByteBuffer.wrap(content));
            storage.metadata().putUpload(new UploadRecord(upload.id(), REPO, 0));
            leftover = data.resolve("ingest/" + upload.id());
            Files.copy(upload.ingestPath(), data.resolve("ingest/crash-leftover"));
        }
        assertFalse(Files.exists(leftover)); // close aborted the open writer
        assertTrue(Files.exists(data.resolve("ingest/crash-leftover")));

        try (Storage storage = Storage.open(data, CLOCK)) {
            assertFalse(Files.exists(data.resolve("ingest/crash-leftover")));
            assertEquals(Optional.of(blob), storage.blobs().stat(blob.digest()));
            assertArrayEquals(content, Files.readAllBytes(blob.path()));
            assertTrue(storage.metadata().isBlobLinked(REPO, blob.digest()));
            assertEquals(Optional.empty(), storage.metadata().getUpload(leftover.getFileName().toString()));
        }
    }

    @Test
    void secondOpenFailsWithoutTouchingTheFirstOnesIngest() throws IOException {
        try (Storage first = Storage.open(data, CLOCK)) {
            BlobWriter inFlight = first.blobs().newWriter(Digest.Algorithm.SHA256);
            inFlight.write(ByteBuffer.wrap(new byte[] {1, 2, 3}));
            assertThrows(IOException.class, () -> Storage.open(data, CLOCK));
            assertTrue(Files.exists(inFlight.ingestPath()));
            assertEquals(3, inFlight.commit(null, 3).size());
        }
    }
}

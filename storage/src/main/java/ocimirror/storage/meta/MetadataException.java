package ocimirror.storage.meta;

/**
 * The metadata store failed (a RocksDB error or a corrupt value): not the client's fault. The
 * server answers it as {@code UNKNOWN} (500).
 */
public class MetadataException extends RuntimeException {
    public MetadataException(String message, Throwable cause) {
        super(message, cause);
    }
}

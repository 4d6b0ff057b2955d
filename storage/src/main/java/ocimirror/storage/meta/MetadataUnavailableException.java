package ocimirror.storage.meta;

/**
 * The metadata store cannot be reached now (a shared database that is down, restarting or out of
 * connections): a transient condition, unlike a {@link MetadataException} of a broken store. The
 * server answers {@code 503}, so that clients try again or another mirror.
 */
public final class MetadataUnavailableException extends MetadataException {
    public MetadataUnavailableException(String message, Throwable cause) {
        super(message, cause);
    }
}

package ocimirror.config;

/** A configuration that cannot be used; the message names the file and the field, ready to print. */
public final class ConfigException extends Exception {
    public ConfigException(String message) {
        super(message);
    }
}

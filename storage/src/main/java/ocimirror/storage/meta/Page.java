package ocimirror.storage.meta;

import java.util.List;

/** One page of a sorted listing; {@code more} is true if entries follow the last one. */
public record Page<T>(List<T> items, boolean more) {
}

package ocimirror.server.cache;

import static java.util.Objects.requireNonNull;

import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import ocimirror.storage.meta.CacheIndex;

/**
 * The pins in force: those of {@code cache.pins} (fixed for the process's life) and those stored
 * in the data directory (added and removed while the server runs). Readers (the evictor, the
 * refresher, the admin API) take a snapshot; a change replaces the list. Changes write the store
 * and the list under one lock, so that an add racing a remove of the same image cannot leave a
 * pin in force that is not stored, or the reverse. Changes run on the storage executor (RocksDB).
 */
final class LivePins {
    private final Set<String> config;
    private final Object changing = new Object();
    private volatile List<PinnedImage> inForce;

    /**
     * @param config  the images of {@code cache.pins}, as written
     * @param initial the pins resolved at start (config first, then the store's)
     */
    LivePins(Set<String> config, List<PinnedImage> initial) {
        this.config = Set.copyOf(config);
        this.inForce = List.copyOf(initial);
    }

    List<PinnedImage> current() {
        return inForce;
    }

    /** Whether {@code image} (as written) is pinned by the configuration file. */
    boolean fromConfig(String image) {
        return config.contains(image);
    }

    /** Stores {@code pin} and puts it in force; false if it was stored or configured already. */
    boolean add(PinnedImage pin, CacheIndex index) {
        requireNonNull(pin, "pin");
        if (fromConfig(pin.image())) {
            return false;
        }
        synchronized (changing) {
            boolean stored = index.addPin(pin.image());
            if (inForce.stream().noneMatch(p -> p.image().equals(pin.image()))) {
                List<PinnedImage> next = new ArrayList<>(inForce);
                next.add(pin);
                inForce = List.copyOf(next);
            }
            return stored;
        }
    }

    /** Removes {@code image} from the store and from force; false if it was not stored. Not for config pins. */
    boolean remove(String image, CacheIndex index) {
        if (fromConfig(image)) {
            throw new IllegalStateException(image + " is a config pin");
        }
        synchronized (changing) {
            boolean removed = index.removePin(image);
            inForce = inForce.stream().filter(p -> !p.image().equals(image)).toList();
            return removed;
        }
    }
}

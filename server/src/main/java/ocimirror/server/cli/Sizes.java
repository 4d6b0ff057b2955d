package ocimirror.server.cli;

import java.util.Locale;

/** Byte counts for people: {@code 512 B}, {@code 3.4 KiB}, {@code 123.0 MiB}, {@code 1.5 GiB}. */
final class Sizes {
    private Sizes() {
    }

    static String of(long bytes) {
        if (bytes < 1024) {
            return bytes + " B";
        }
        String[] units = {"KiB", "MiB", "GiB", "TiB"};
        double v = bytes;
        int i = -1;
        do {
            v /= 1024;
            i++;
        } while (v >= 1024 && i < units.length - 1);
        return String.format(Locale.ROOT, "%.1f %s", v, units[i]);
    }
}

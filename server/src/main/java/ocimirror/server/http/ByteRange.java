package ocimirror.server.http;

/**
 * A single byte range of a blob, {@code start..end} inclusive, parsed from a {@code Range}
 * header against the blob's size.
 *
 * <p>Choices, following distribution (which serves through Go's {@code http.ServeContent}):
 * {@code bytes=a-b}, {@code bytes=a-} and {@code bytes=-n} are served as 206; a range that
 * starts past the end, a zero suffix, or a malformed header is answered 416 with
 * {@code Content-Range: bytes *}{@code /size}. Unlike Go, a multi-range request is served whole
 * (200), which RFC 9110 allows: no registry client asks for several ranges at once.
 */
record ByteRange(long start, long end) {

    /** What a {@code Range} header asks for. */
    sealed interface Result permits Whole, Partial, Unsatisfiable {
    }

    /** No range (or one that is ignored): the whole blob, 200. */
    record Whole() implements Result {
    }

    /** One satisfiable range: 206. */
    record Partial(ByteRange range) implements Result {
    }

    /** 416. */
    record Unsatisfiable() implements Result {
    }

    long length() {
        return end - start + 1;
    }

    /** The {@code Content-Range} value for a 206. */
    String contentRange(long size) {
        return "bytes " + start + "-" + end + "/" + size;
    }

    static Result parse(String header, long size) {
        if (header == null) {
            return new Whole();
        }
        String h = header.trim();
        if (!h.regionMatches(true, 0, "bytes=", 0, 6)) {
            return new Unsatisfiable();
        }
        String spec = h.substring(6).trim();
        if (spec.indexOf(',') >= 0) {
            return new Whole();
        }
        int dash = spec.indexOf('-');
        if (dash < 0) {
            return new Unsatisfiable();
        }
        String first = spec.substring(0, dash).trim();
        String last = spec.substring(dash + 1).trim();
        if (first.isEmpty()) {
            long suffix = number(last);
            if (suffix <= 0 || size == 0) {
                return new Unsatisfiable();
            }
            return new Partial(new ByteRange(Math.max(0, size - suffix), size - 1));
        }
        long start = number(first);
        if (start < 0 || start >= size) {
            return new Unsatisfiable();
        }
        if (last.isEmpty()) {
            return new Partial(new ByteRange(start, size - 1));
        }
        long end = number(last);
        if (end < start) {
            return new Unsatisfiable();
        }
        return new Partial(new ByteRange(start, Math.min(end, size - 1)));
    }

    /** A non-negative decimal, or -1 if it is not one. */
    private static long number(String s) {
        if (s.isEmpty() || s.length() > 18) {
            return -1;
        }
        for (int i = 0; i < s.length(); i++) {
            if (s.charAt(i) < '0' || s.charAt(i) > '9') {
                return -1;
            }
        }
        return Long.parseLong(s);
    }
}

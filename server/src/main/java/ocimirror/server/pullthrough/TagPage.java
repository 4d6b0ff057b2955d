package ocimirror.server.pullthrough;

import java.util.List;

/**
 * One page of a proxied repository's tags, as the upstream listed them.
 *
 * @param tags     in lexical order
 * @param nextN    the page size of the next page, when there is one
 * @param nextLast the {@code last} of the next page, or null when this is the last page
 */
public record TagPage(List<String> tags, int nextN, String nextLast) {
    public TagPage {
        tags = List.copyOf(tags);
    }

    public boolean more() {
        return nextLast != null;
    }
}

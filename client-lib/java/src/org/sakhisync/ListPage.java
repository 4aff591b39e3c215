package org.sakhisync;

import java.util.Collections;
import java.util.List;

/** One page of {@link SakhiClient#list}: the rows, and the cursor of the next page. */
public final class ListPage {
    /** The rows in capture order (oldest first); unmodifiable. */
    public final List<ListItem> items;
    /** Pass to {@link ListFilter#after} for the next page; "" when there are no more. */
    public final String nextCursor;

    ListPage(List<ListItem> items, String nextCursor) {
        this.items = Collections.unmodifiableList(items);
        this.nextCursor = nextCursor;
    }

    /** True when another page follows. */
    public boolean hasMore() {
        return !nextCursor.isEmpty();
    }
}

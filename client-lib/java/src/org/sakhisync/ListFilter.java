package org.sakhisync;

/** Which records {@link SakhiClient#list} returns ({@code sakhi_list_filter}); all by default. */
public final class ListFilter {
    int status;
    int syncState;
    boolean pendingOnly;
    long fromMs;
    long toMs;
    String after;

    /** Only this {@code STATUS_*}; 0 = any. */
    public ListFilter status(int status) {
        this.status = status;
        return this;
    }

    /** Only this {@code SYNC_*} state; 0 = any. */
    public ListFilter syncState(int state) {
        this.syncState = state;
        return this;
    }

    /** Only records with changes not yet acknowledged. */
    public ListFilter pendingOnly(boolean on) {
        this.pendingOnly = on;
        return this;
    }

    /** Capture time (Unix ms) in [fromMs, toMs); 0 = no bound. */
    public ListFilter captured(long fromMs, long toMs) {
        if (fromMs < 0 || toMs < 0)
            throw new IllegalArgumentException("negative time");
        this.fromMs = fromMs;
        this.toMs = toMs;
        return this;
    }

    /** Start after this id: the {@link ListPage#nextCursor} of the previous page. */
    public ListFilter after(String cursor) {
        this.after = cursor == null || cursor.isEmpty() ? null : cursor;
        return this;
    }

    long[] numbers() {
        return new long[] {status, syncState, pendingOnly ? 1 : 0, fromMs, toMs};
    }
}

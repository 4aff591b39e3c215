package org.sakhisync;

/** One row of a list ({@code sakhi_list_item}): non-identifying data only. */
public final class ListItem {
    public final String id;
    /** {@code STATUS_*}, 0 unknown. */
    public final int status;
    /** {@code URGENCY_*}, 0 unknown. */
    public final int urgency;
    /** {@code SYNC_*}. */
    public final int syncState;
    /** Capture time, Unix ms. */
    public final long createdMs;
    /** True when only a stub is kept on this device. */
    public final boolean stub;

    ListItem(String id, int status, int urgency, int syncState, long createdMs, boolean stub) {
        this.id = id;
        this.status = status;
        this.urgency = urgency;
        this.syncState = syncState;
        this.createdMs = createdMs;
        this.stub = stub;
    }
}

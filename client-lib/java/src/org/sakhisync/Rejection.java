package org.sakhisync;

/** A change the server rejected during a sync ({@code sakhi_rejection}). */
public final class Rejection {
    /** The record. */
    public final String id;
    /** Protocol error code (40 INVALID, 41 FORBIDDEN, ...). */
    public final int code;
    /** Case-model field name, or "". */
    public final String field;
    /** The server's reason. */
    public final String reason;

    Rejection(String id, int code, String field, String reason) {
        this.id = id;
        this.code = code;
        this.field = field;
        this.reason = reason;
    }
}

package org.sakhisync;

import java.util.ArrayList;
import java.util.Collections;
import java.util.List;

/**
 * A record as this device sees it ({@code sakhi_record}): the server's version with the worker's
 * pending edits on top, decrypted. A snapshot: it does not change when the store does. Close it
 * when done.
 */
public final class SakhiRecord extends ClientObject {
    private final String id;
    private final int syncState;
    private final long version;
    private final boolean stub;
    private final boolean deleted;
    private final boolean needsReview;
    private final int rejectCode;
    private final String rejectField;
    private final String rejectReason;
    private final List<String> followups;

    SakhiRecord(SakhiClient client, long ptr) {
        super(client, ptr);
        /* The properties cannot fail and never change: read them once. */
        long[] n = new long[7];
        Native.recordProps(ptr, n);
        syncState = (int) n[0];
        version = n[1];
        stub = n[2] != 0;
        deleted = n[3] != 0;
        needsReview = n[4] != 0;
        rejectCode = (int) n[5];
        List<String> f = new ArrayList<>();
        for (long i = 0; i < n[6]; i++)
            f.add(Native.str(Native.recordFollowup(ptr, i)));
        followups = Collections.unmodifiableList(f);
        id = Native.str(Native.recordText(ptr, 0));
        rejectField = Native.str(Native.recordText(ptr, 1));
        rejectReason = Native.str(Native.recordText(ptr, 2));
    }

    @Override
    void free(long p) {
        Native.recordFree(p);
    }

    public String id() {
        return id;
    }

    /** {@link Sakhi#SYNC_PENDING}, {@link Sakhi#SYNC_RECEIVED}, ... */
    public int syncState() {
        return syncState;
    }

    /** The server's version, 0 = none yet. */
    public long version() {
        return version;
    }

    /** Minimised to a stub after the centre accepted it. */
    public boolean isStub() {
        return stub;
    }

    public boolean isDeleted() {
        return deleted;
    }

    public boolean needsReview() {
        return needsReview;
    }

    /** Protocol error code of the rejected change (e.g. 40), 0 when none. */
    public int rejectCode() {
        return rejectCode;
    }

    /** Field the server named in the rejection, or "". */
    public String rejectField() {
        return rejectField;
    }

    /** The server's reason for the rejection, or "". */
    public String rejectReason() {
        return rejectReason;
    }

    /** Follow-up texts, oldest first; unmodifiable. */
    public List<String> followups() {
        return followups;
    }

    private static final int S = 0, U = 1, B = 2;

    private Object get(int kind, String field) throws SakhiException {
        byte[] f = Native.required(field, "field");
        byte[][] s = new byte[1][];
        long[] v = new long[1];
        int rc = client.call(h -> {
            synchronized (this) {
                long p = live();
                return kind == S ? Native.recordGetStr(p, f, s)
                       : kind == U ? Native.recordGetUint(p, f, v)
                                   : Native.recordGetBool(p, f, v);
            }
        });
        if (rc == Sakhi.ENOTFOUND)
            return null;
        if (rc != 0)
            throw new SakhiException(rc, field + ": unknown field, or not of this type", field);
        return kind == S ? Native.str(s[0]) : kind == U ? (Object) v[0] : (Object) (v[0] != 0);
    }

    /** A text field by case-model name ("name", "block"); null when absent. */
    public String getString(String field) throws SakhiException {
        return (String) get(S, field);
    }

    /** A number or enumeration code ("age", "urgency"); null when absent. */
    public Long getLong(String field) throws SakhiException {
        return (Long) get(U, field);
    }

    /** A yes/no field ("minor", "safe_to_call"); null when absent. */
    public Boolean getBoolean(String field) throws SakhiException {
        return (Boolean) get(B, field);
    }
}

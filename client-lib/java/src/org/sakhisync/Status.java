package org.sakhisync;

/** The device identity and store counters ({@code sakhi_status}). Immutable snapshot. */
public final class Status {
    /** True once the device is enrolled. */
    public final boolean enrolled;
    /** Server-assigned device id, 0 before enrollment. */
    public final long deviceId;
    /** The worker the device belongs to. */
    public final String worker;
    /** {@link Sakhi#ROLE_FIELD}, {@link Sakhi#ROLE_STAFF}, ... */
    public final int role;
    /** The worker's district code, 0 = all. */
    public final int district;
    public final String serverHost;
    public final int serverPort;
    /** Changes waiting in the outbox. */
    public final long pending;
    /** Records in the local store. */
    public final long records;
    /** Records whose last change the server rejected. */
    public final long rejected;
    /** Unix ms of the last completed sync, 0 = never. */
    public final long lastSyncMs;
    /** The pull cursor (server seq). */
    public final long cursor;
    /** True when enrolled in plaintext mode (loopback tests only). */
    public final boolean plaintext;
    /** The pinned server key, 64 hex digits; "" in plaintext mode. */
    public final String serverPin;

    Status(long[] n, byte[][] s) {
        enrolled = n[0] != 0;
        deviceId = n[1];
        role = (int) n[2];
        district = (int) n[3];
        serverPort = (int) n[4];
        pending = n[5];
        records = n[6];
        rejected = n[7];
        lastSyncMs = n[8];
        cursor = n[9];
        plaintext = n[10] != 0;
        worker = Native.str(s[0]);
        serverHost = Native.str(s[1]);
        serverPin = Native.str(s[2]);
    }
}

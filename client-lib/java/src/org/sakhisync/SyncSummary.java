package org.sakhisync;

/**
 * What an app's home screen shows about syncing ({@code sakhi_sync_summary}): when it last
 * worked, what waits and for how long, what went wrong last. Immutable snapshot.
 */
public final class SyncSummary {
    /** True while a sync or enroll runs on the client. */
    public final boolean syncing;
    /** Unix ms the last sync completed, 0 = never. */
    public final long lastSuccessMs;
    /** Unix ms the last sync ended, whatever its result, 0 = never. */
    public final long lastAttemptMs;
    /** The {@link Sakhi} error code of the last sync, 0 when it succeeded. */
    public final int lastError;
    /** Its message; "" when it succeeded or ended before this client was opened. */
    public final String lastErrorMessage;
    /** Changes waiting to be sent. */
    public final long pending;
    /** When the oldest of them was made (Unix ms), 0 = none waits. */
    public final long oldestPendingMs;
    /** How long it has waited (ms), 0 = none waits. */
    public final long oldestPendingAgeMs;
    /** Records whose last change the server rejected (fix or discard them). */
    public final long rejected;

    static final int NUMBERS = 8;

    SyncSummary(long[] n, byte[] msg) {
        syncing = n[0] != 0;
        lastSuccessMs = n[1];
        lastAttemptMs = n[2];
        lastError = (int) n[3];
        pending = n[4];
        oldestPendingMs = n[5];
        oldestPendingAgeMs = n[6];
        rejected = n[7];
        lastErrorMessage = Native.str(msg);
    }

    @Override
    public String toString() {
        return "SyncSummary{pending=" + pending + ", oldestPendingAgeMs=" + oldestPendingAgeMs
            + ", lastSuccessMs=" + lastSuccessMs + ", lastError=" + lastError + "}";
    }
}

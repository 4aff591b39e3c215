package org.sakhisync;

/** One progress report of a sync ({@code sakhi_progress}). Immutable. */
public final class SyncProgress {
    /** {@link Sakhi#PHASE_CONNECT} .. {@link Sakhi#PHASE_DONE}. */
    public final int phase;
    /** Changes acknowledged so far in this sync. */
    public final long pushDone;
    /** Changes in the outbox when the sync started. */
    public final long pushTotal;
    /** Records pulled and applied so far. */
    public final long pullDone;
    public final long bytesSent;
    public final long bytesReceived;
    public final long elapsedMs;
    /** Changes still to be acknowledged. */
    public final long pushRemaining;
    /** Encoded size of the outbox when the sync started, and the part acknowledged so far. */
    public final long pushBytesTotal;
    public final long pushBytesDone;
    /** Estimate of the push time left in ms; 0 = unknown or nothing left. */
    public final long etaMs;

    /* Called by the JNI layer with the C struct's members, in declaration order. */
    SyncProgress(int phase, long pushDone, long pushTotal, long pullDone, long bytesSent,
                 long bytesReceived, long elapsedMs, long pushRemaining, long pushBytesTotal,
                 long pushBytesDone, long etaMs) {
        this.phase = phase;
        this.pushDone = pushDone;
        this.pushTotal = pushTotal;
        this.pullDone = pullDone;
        this.bytesSent = bytesSent;
        this.bytesReceived = bytesReceived;
        this.elapsedMs = elapsedMs;
        this.pushRemaining = pushRemaining;
        this.pushBytesTotal = pushBytesTotal;
        this.pushBytesDone = pushBytesDone;
        this.etaMs = etaMs;
    }

    @Override
    public String toString() {
        return "SyncProgress{phase=" + phase + ", push=" + pushDone + "/" + pushTotal
            + ", pulled=" + pullDone + ", elapsedMs=" + elapsedMs + "}";
    }
}

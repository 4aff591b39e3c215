package org.sakhisync;

import java.util.ArrayList;
import java.util.Collections;
import java.util.List;

/** What a sync did ({@code sakhi_sync_result}); also carried by a {@link SyncException}. */
public final class SyncResult {
    /** Changes acknowledged: applied + merged + rejected. */
    public final long pushed;
    public final long applied;
    /** Applied as a concurrent edit; the record is flagged for review. */
    public final long merged;
    /** Rejected; each stays visible on its record until fixed or discarded. */
    public final long rejected;
    /** Records received and applied. */
    public final long pulled;
    /** Pulled records flagged for review. */
    public final long conflicts;
    /** Records reduced to a stub. */
    public final long stubbed;
    public final long bytesSent;
    public final long bytesReceived;
    /** True when the outbox is empty of sendable changes and the pull reached the end. */
    public final boolean complete;
    /** The server's history ended below what this device had pulled (restored from backup). */
    public final boolean serverBehind;
    /** The server's last change number when that was found. */
    public final long serverSeq;
    /**
     * The sync stopped at its deadline ({@link SyncOptions#deadlineMs}) at a safe point; it
     * failed with {@link Sakhi#ETIMEOUT} and the next sync resumes where it stopped.
     */
    public final boolean deadlineReached;
    /** The first rejections (at most 16); unmodifiable. */
    public final List<Rejection> rejections;

    static final int NUMBERS = 14;
    static final int MAX_REJECTIONS = 16;

    SyncResult(long[] n, byte[][] texts, int[] codes) {
        pushed = n[0];
        applied = n[1];
        merged = n[2];
        rejected = n[3];
        pulled = n[4];
        conflicts = n[5];
        stubbed = n[6];
        bytesSent = n[7];
        bytesReceived = n[8];
        complete = n[9] != 0;
        int nrej = (int) Math.min(n[10], MAX_REJECTIONS);
        serverBehind = n[11] != 0;
        serverSeq = n[12];
        deadlineReached = n[13] != 0;
        List<Rejection> list = new ArrayList<>(nrej);
        for (int i = 0; i < nrej; i++)
            list.add(new Rejection(Native.str(texts[3 * i]), codes[i], Native.str(texts[3 * i + 1]),
                                   Native.str(texts[3 * i + 2])));
        rejections = Collections.unmodifiableList(list);
    }

    @Override
    public String toString() {
        return "SyncResult{pushed=" + pushed + ", applied=" + applied + ", merged=" + merged
            + ", rejected=" + rejected + ", pulled=" + pulled + ", complete=" + complete + "}";
    }
}

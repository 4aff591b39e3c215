package org.sakhisync;

/**
 * A sync or enrollment failed; {@link #result()} still says what was done before the failure
 * (changes acknowledged, records pulled). Durable work stays done: the next sync resumes.
 */
public final class SyncException extends SakhiException {
    private static final long serialVersionUID = 1L;

    private final transient SyncResult result;

    SyncException(SakhiException e, SyncResult result) {
        super(e);
        this.result = result;
    }

    /** What the failed sync did before it stopped. */
    public SyncResult result() {
        return result;
    }
}

package org.sakhisync;

/*
 * Base of the objects derived from a client (drafts, records). The C library wants them freed
 * before their client is closed and never used from two threads at once; this class gives both:
 * each one registers with its client, which frees whatever is still open when it closes, and
 * every use holds the client's shared lock (so the client cannot close underneath) and then this
 * object's monitor (so two threads take turns). Lock order, everywhere: client, then object.
 */
abstract class ClientObject implements AutoCloseable {
    final SakhiClient client;
    long ptr;

    ClientObject(SakhiClient client, long ptr) {
        this.client = client;
        this.ptr = ptr;
    }

    /* Free the native object. Called with the client's lock held and this monitor. */
    abstract void free(long p);

    /* The native pointer, or IllegalStateException when closed. Hold the monitor. */
    final long live() {
        if (ptr == 0)
            throw new IllegalStateException(getClass().getSimpleName() + " is closed");
        return ptr;
    }

    /* Called by the client while it closes (its lock held exclusively). */
    final synchronized void release() {
        if (ptr != 0) {
            free(ptr);
            ptr = 0;
        }
    }

    /** Free the native object. Idempotent; also done by closing the client. */
    @Override
    public final void close() {
        if (!client.enter())
            return; /* the client closed: it freed this object already */
        try {
            synchronized (this) {
                if (ptr != 0) {
                    free(ptr);
                    ptr = 0;
                    client.forget(this);
                }
            }
        } finally {
            client.leave();
        }
    }
}

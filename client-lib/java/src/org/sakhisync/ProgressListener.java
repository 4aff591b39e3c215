package org.sakhisync;

/**
 * Told how a sync or enrollment advances. Called on the thread that called {@link
 * SakhiClient#sync} or {@link SakhiClient#enroll}, after each step.
 *
 * <p>Return {@code false} to cancel: the call then fails with {@link Sakhi#ECANCELED}. A
 * listener that throws cancels the sync the same way; the library finishes its cleanup (the store
 * keeps every durable step and stays consistent) and the exception then reaches the caller of
 * {@code sync} unchanged. The listener must not close the client or start another sync on it.
 */
public interface ProgressListener {
    boolean onProgress(SyncProgress progress);
}

package org.sakhisync;

/**
 * Receives libsakhi's log lines ({@code sakhi_log_fn}): one line of key=value fields
 * ("event=welcome session=7 ..."), never a referral's content. Called on whichever thread made
 * the call that logs (a sync logs from the syncing thread), so it must be thread-safe and quick
 * (hand the line to the app's logger). What it throws is dropped: logging never fails a call.
 */
public interface LogListener {
    void onLog(int level, String line);
}

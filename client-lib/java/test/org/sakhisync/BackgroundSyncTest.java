package org.sakhisync;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicBoolean;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestMethodOrder;

/*
 * Sync as an Android background job runs it, through the binding, against a real sakhi-server
 * over TLS on 127.0.0.1: the summary for the home screen, a network-changed hint that makes the
 * running sync start over and finish, a deadline that stops a sync at a safe point. The server's
 * record count is checked exactly after each, so a lost or duplicated referral fails.
 */
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
class BackgroundSyncTest {
    private static TestServer server;
    private static Path dir;
    private static SakhiClient device;
    private static final List<String> logLines =
        java.util.Collections.synchronizedList(new ArrayList<>());

    @BeforeAll
    static void start() throws Exception {
        server = new TestServer();
        dir = TestSupport.tempDir("sakhi-java-bgsync");
        device = TestSupport.open(dir.resolve("dev"), TestSupport.fastOptions().log(
            (level, line) -> logLines.add(line), Sakhi.LOG_INFO));
        device.enroll(new EnrollOptions().server("127.0.0.1", server.port)
                          .code(server.code("fw1")).serverPin(server.pin).label("java-bg"),
                      quick());
    }

    @AfterAll
    static void stop() throws Exception {
        TestSupport.finish(device, server, dir);
    }

    private static SyncOptions quick() {
        return TestSupport.quickSync();
    }

    @Test
    @Order(1)
    void summaryShowsWhatWaitsAndWhenItLastWorked() throws Exception {
        SyncSummary s = device.syncSummary();
        assertEquals(0, s.pending);
        assertEquals(0, s.lastSuccessMs);
        long before = System.currentTimeMillis();
        for (int i = 0; i < 3; i++)
            TestSupport.capture(device, "withheld");
        s = device.syncSummary();
        assertEquals(3, s.pending);
        assertTrue(Math.abs(s.oldestPendingMs - before) < 5000, s.toString());
        assertTrue(s.oldestPendingAgeMs >= 0 && s.oldestPendingAgeMs < 60000, s.toString());
        SyncResult res = device.sync(quick());
        assertTrue(res.complete);
        assertEquals(3, server.stats()[0]);
        s = device.syncSummary();
        assertEquals(0, s.pending);
        assertEquals(0, s.oldestPendingMs);
        assertEquals(0, s.lastError);
        assertEquals("", s.lastErrorMessage);
        assertTrue(s.lastSuccessMs >= before);
        assertEquals(s.lastSuccessMs, s.lastAttemptMs);
        assertEquals(false, s.syncing);
    }

    @Test
    @Order(2)
    void networkChangedStartsTheSyncOver() throws Exception {
        for (int i = 0; i < 24; i++)
            TestSupport.capture(device, "withheld");
        AtomicBoolean hinted = new AtomicBoolean();
        logLines.clear();
        SyncResult res = device.sync(quick().batchSize(4).progress(p -> {
            if (p.pushDone > 0 && !hinted.getAndSet(true))
                device.networkChanged(); /* as ConnectivityManager's callback would */
            return true;
        }));
        assertTrue(hinted.get());
        assertTrue(res.complete);
        assertEquals(24, res.pushed);
        assertEquals(27, server.stats()[0]);
        synchronized (logLines) {
            assertTrue(logLines.contains("event=network_changed"), logLines.toString());
            assertEquals(2, logLines.stream().filter(l -> l.startsWith("event=welcome ")).count(),
                         logLines.toString());
        }
        device.networkChanged(); /* no sync running: nothing happens */
    }

    @Test
    @Order(3)
    void deadlineStopsAtASafePointAndTheNextSyncResumes() throws Exception {
        for (int i = 0; i < 60; i++)
            TestSupport.capture(device, "withheld");
        SyncException e = assertThrows(SyncException.class, () -> device.sync(
            quick().batchSize(2).deadlineMs(400).progress(p -> {
                try {
                    Thread.sleep(30); /* a slow link */
                } catch (InterruptedException ie) {
                    Thread.currentThread().interrupt();
                }
                return true;
            })));
        assertEquals(Sakhi.ETIMEOUT, e.code());
        SyncResult part = e.result();
        assertTrue(part.deadlineReached);
        assertTrue(part.pushed > 0 && part.pushed < 60, part.toString());
        assertEquals(60 - part.pushed, device.pendingCount());
        long held = server.stats()[0]; /* acks on their way at the stop may be missing */
        assertTrue(held >= 27 + part.pushed && held <= 87, held + " " + part);
        SyncSummary s = device.syncSummary();
        assertEquals(Sakhi.ETIMEOUT, s.lastError);
        assertEquals(60 - part.pushed, s.pending);
        SyncResult rest = device.sync(quick());
        assertTrue(rest.complete);
        assertEquals(60 - part.pushed, rest.pushed);
        assertEquals(87, server.stats()[0]);
    }
}

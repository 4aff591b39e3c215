package org.sakhisync;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestMethodOrder;

/*
 * The binding against a real sakhi-server over TLS on 127.0.0.1: enrollment with the pin, a sync
 * with a progress listener, a listener that throws, cancellation from another thread, close
 * during a sync. One server and one enrolled device for the class; the tests run in order and
 * each checks the server's record count exactly, so a lost or duplicated referral fails.
 */
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
class SyncTest {
    private static TestServer server;
    private static Path dir;
    private static SakhiClient device;
    private static long serverRecords;
    private static final List<String> logLines = java.util.Collections.synchronizedList(new ArrayList<>());
    private static final String CANARY = "Canary Dolkar 7731";

    @BeforeAll
    static void start() throws Exception {
        server = new TestServer();
        dir = TestSupport.tempDir("sakhi-java-sync");
        device = TestSupport.open(dir.resolve("dev"), TestSupport.fastOptions().log(
            (level, line) -> logLines.add(level + " " + line), Sakhi.LOG_INFO));
    }

    @AfterAll
    static void stop() throws Exception {
        TestSupport.finish(device, server, dir);
    }

    private static SyncOptions quick() {
        return TestSupport.quickSync();
    }

    /* The server holds n more records than at the previous check. */
    private static void assertServerGained(long n) throws Exception {
        serverRecords += n;
        assertEquals(serverRecords, server.stats()[0], "records on the server");
    }

    /* A sync of c pushes exactly n changes, and the server holds them. */
    private static void assertSyncPushes(SakhiClient c, long n) throws Exception {
        assertEquals(n, c.sync(quick()).pushed);
        assertServerGained(n);
    }

    /* A sync of the device completes: the server holds n more records, nothing is pending. */
    private static void assertSyncCompletes(long n) throws Exception {
        assertTrue(device.sync(quick()).complete);
        assertServerGained(n);
        assertEquals(0, device.pendingCount());
    }

    @Test
    @Order(1)
    void enrollRefusesAWrongPinThenEnrollsWithTheRightOne() throws Exception {
        String code = server.code("fw1");
        String wrongPin = server.pin.substring(1) + (server.pin.charAt(0) == '0' ? "1" : "0");
        SakhiException e = assertThrows(SakhiException.class, () -> device.enroll(
            new EnrollOptions().server("127.0.0.1", server.port).code(code).serverPin(wrongPin),
            quick()));
        assertEquals(Sakhi.ESERVERKEY, e.code());
        assertTrue(e.detail().contains(server.pin.substring(0, 16)), e.detail());

        List<Integer> phases = new ArrayList<>();
        device.enroll(new EnrollOptions().server("127.0.0.1", server.port).code(code)
                          .serverPin(server.pin).label("java-test"),
                      quick().progress(p -> phases.add(p.phase)));
        Status st = device.status();
        assertTrue(st.enrolled);
        assertEquals("fw1", st.worker);
        assertEquals(Sakhi.ROLE_FIELD, st.role);
        assertEquals(server.port, st.serverPort);
        assertEquals(server.pin, st.serverPin);
        /* the centre's servers: the one it enrolled at, the primary */
        List<Server> servers = device.servers();
        assertEquals(1, servers.size());
        assertEquals("127.0.0.1", servers.get(0).host);
        assertEquals(server.port, servers.get(0).port);
        assertEquals(server.pin, servers.get(0).pin);
        assertTrue(servers.get(0).primary);
        assertTrue(st.deviceId > 0);
        assertTrue(!phases.isEmpty() && phases.get(0) == Sakhi.PHASE_CONNECT, phases.toString());
        SakhiException again = assertThrows(SakhiException.class, () -> device.enroll(
            new EnrollOptions().server("127.0.0.1", server.port).code(code).serverPin(server.pin),
            quick()));
        assertEquals(Sakhi.EENROLLED, again.code());
    }

    @Test
    @Order(2)
    void syncPushesWithProgress() throws Exception {
        List<String> ids = new ArrayList<>();
        for (int i = 0; i < 3; i++)
            ids.add(TestSupport.capture(device, i == 0 ? CANARY : "withheld"));
        List<SyncProgress> seen = new ArrayList<>();
        SyncResult res = device.sync(quick().progress(p -> seen.add(p)));
        /* the centre's districts came with the session, names in the language asked for */
        List<District> ds = device.districts("hi");
        assertEquals(2, ds.size(), ds.toString());
        assertEquals(TestSupport.LEH, ds.get(0).code);
        assertEquals("leh", ds.get(0).slug);
        assertEquals("LEH", ds.get(0).prefix);
        assertEquals("लेह", ds.get(0).name);
        assertEquals("Kargil", device.districts(null).get(1).name);
        assertEquals(3, res.pushed);
        assertEquals(3, res.applied);
        assertEquals(0, res.rejected);
        assertTrue(res.complete);
        assertTrue(res.bytesSent > 0 && res.bytesReceived > 0);
        assertServerGained(3);
        SyncProgress last = seen.get(seen.size() - 1);
        assertEquals(Sakhi.PHASE_DONE, last.phase);
        assertEquals(3, last.pushDone);
        assertEquals(3, last.pushTotal);
        assertEquals(0, last.pushRemaining);
        assertEquals(Sakhi.PHASE_CONNECT, seen.get(0).phase);
        for (String id : ids) {
            try (SakhiRecord r = device.record(id)) {
                assertEquals(Sakhi.SYNC_RECEIVED, r.syncState());
                assertTrue(r.version() > 0);
            }
        }
        assertEquals(0, device.pendingCount());
        assertTrue(device.status().lastSyncMs > 0);
        /* The log listener saw the sync, and never a referral's content. */
        synchronized (logLines) {
            assertTrue(logLines.stream().anyMatch(l -> l.startsWith(Sakhi.LOG_INFO + " event=welcome ")),
                       logLines.toString());
            assertTrue(logLines.stream().noneMatch(l -> l.contains("Dolkar")));
            assertTrue(logLines.stream().noneMatch(l -> l.startsWith(Sakhi.LOG_DEBUG + " ")));
        }
    }

    /* The listener's exception reaches the caller unchanged; the store stays consistent and the
     * next sync sends each change exactly once. */
    @Test
    @Order(3)
    void throwingListenerCancelsAndTheStoreStaysConsistent() throws Exception {
        String a = TestSupport.capture(device, "withheld");
        String b = TestSupport.capture(device, "withheld");
        final IllegalStateException boom = new IllegalStateException("listener failed");
        int[] calls = new int[1];
        IllegalStateException got = assertThrows(IllegalStateException.class,
            () -> device.sync(quick().progress(p -> {
                calls[0]++;
                if (p.phase == Sakhi.PHASE_PUSH || p.phase == Sakhi.PHASE_DONE)
                    throw boom;
                return true;
            })));
        assertSame(boom, got);
        assertTrue(calls[0] >= 1);
        /* Readable, consistent, nothing lost: both referrals are still here and pending or sent. */
        for (String id : new String[] {a, b}) {
            try (SakhiRecord r = device.record(id)) {
                assertEquals("withheld", r.getString("name"));
            }
        }
        /* An Error thrown on the first call (before anything is sent) is also rethrown as is. */
        AssertionError err = new AssertionError("first call");
        assertSame(err, assertThrows(AssertionError.class,
            () -> device.sync(quick().progress(p -> { throw err; }))));
        /* A listener returning false cancels with the code. */
        SyncException c = assertThrows(SyncException.class,
                                       () -> device.sync(quick().progress(p -> false)));
        assertEquals(Sakhi.ECANCELED, c.code());

        assertSyncCompletes(2);
        for (String id : new String[] {a, b}) {
            try (SakhiRecord r = device.record(id)) {
                assertEquals(Sakhi.SYNC_RECEIVED, r.syncState());
            }
        }
    }

    /* cancelSync from another thread while the listener holds the sync thread mid-push. */
    @Test
    @Order(4)
    void cancelFromAnotherThreadMidSync() throws Exception {
        for (int i = 0; i < 12; i++)
            TestSupport.capture(device, "withheld");
        CountDownLatch inSync = new CountDownLatch(1);
        CountDownLatch canceled = new CountDownLatch(1);
        Thread t = new Thread(() -> {
            try {
                if (inSync.await(30, TimeUnit.SECONDS))
                    device.cancelSync();
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            } finally {
                canceled.countDown();
            }
        });
        t.start();
        SyncException e = assertThrows(SyncException.class,
            () -> device.sync(quick().batchSize(1).progress(p -> {
                if (p.phase == Sakhi.PHASE_PUSH && inSync.getCount() > 0) {
                    inSync.countDown();
                    try {
                        canceled.await(30, TimeUnit.SECONDS);
                    } catch (InterruptedException ie) {
                        Thread.currentThread().interrupt();
                    }
                }
                return true;
            })));
        t.join(30000);
        assertEquals(Sakhi.ECANCELED, e.code());
        assertTrue(e.result().pushed < 12, "canceled before the end: " + e.result());
        assertSyncCompletes(12);
    }

    /* A server that accepts and never answers: only the cancel can end the sync quickly. While
     * the sync waits, another thread captures on the same client: the binding does not make
     * capture wait for a sync. */
    @Test
    @Order(5)
    void cancelWakesASyncWaitingOnASilentServer() throws Exception {
        try (ServerSocket silent = new ServerSocket(0, 4, InetAddress.getLoopbackAddress())) {
            AtomicReference<Socket> held = new AtomicReference<>();
            AtomicReference<Object> captured = new AtomicReference<>();
            Thread acceptor = new Thread(() -> {
                try {
                    held.set(silent.accept());
                    try {
                        captured.set(TestSupport.capture(device, "withheld"));
                    } catch (Throwable t) {
                        captured.set(t);
                    }
                    device.cancelSync();
                } catch (Exception ex) {
                    /* the test fails on the timing below */
                }
            });
            acceptor.start();
            long t0 = System.nanoTime();
            SyncException e = assertThrows(SyncException.class, () -> device.sync(
                quick().ioTimeoutMs(60000).server("127.0.0.1", silent.getLocalPort())));
            long ms = (System.nanoTime() - t0) / 1000000;
            acceptor.join(10000);
            if (held.get() != null)
                held.get().close();
            assertEquals(Sakhi.ECANCELED, e.code());
            assertTrue(ms < 30000, "canceled after " + ms + " ms");
            assertTrue(captured.get() instanceof String, String.valueOf(captured.get()));
        }
        assertSyncPushes(device, 1);
    }

    /* close() from another thread cancels the running sync, waits for it, then frees. */
    @Test
    @Order(6)
    void closeDuringSyncCancelsAndWaits() throws Exception {
        Path d2 = dir.resolve("dev2");
        /* A log listener that throws: dropped, never failing a call. */
        int[] logged = new int[1];
        SakhiClient c = TestSupport.open(d2, TestSupport.fastOptions().log((level, line) -> {
            logged[0]++;
            throw new IllegalStateException("log listener");
        }, Sakhi.LOG_DEBUG));
        c.enroll(new EnrollOptions().server("127.0.0.1", server.port).code(server.code("fw1"))
                     .serverPin(server.pin), quick());
        assertTrue(logged[0] > 0, "the enrollment logged");
        String id = TestSupport.capture(c, "withheld");
        SakhiRecord open = c.record(id);
        try (ServerSocket silent = new ServerSocket(0, 4, InetAddress.getLoopbackAddress())) {
            AtomicReference<Throwable> outcome = new AtomicReference<>();
            Thread syncer = new Thread(() -> {
                try {
                    c.sync(quick().ioTimeoutMs(60000).server("127.0.0.1", silent.getLocalPort()));
                } catch (Throwable ex) {
                    outcome.set(ex);
                }
            });
            syncer.start();
            Socket s = silent.accept();
            c.close();
            syncer.join(30000);
            s.close();
            assertTrue(outcome.get() instanceof SyncException, String.valueOf(outcome.get()));
            assertEquals(Sakhi.ECANCELED, ((SyncException) outcome.get()).code());
        }
        assertThrows(IllegalStateException.class, () -> open.getString("name"));
        assertThrows(IllegalStateException.class, c::status);
        /* The unsent referral survived and goes out from the reopened store. */
        try (SakhiClient again = TestSupport.open(d2)) {
            assertEquals(1, again.pendingCount());
            assertSyncPushes(again, 1);
        }
    }

    /* Enrollment from the URI an administrator hands over (text or QR code): TLS with its pin. */
    @Test
    @Order(7)
    void enrollFromAUri() throws Exception {
        Path d3 = dir.resolve("dev3");
        try (SakhiClient c = TestSupport.open(d3)) {
            SakhiException bad = assertThrows(SakhiException.class,
                () -> c.enroll("sakhi:enroll?v=1&addr=127.0.0.1:" + server.port + "&code=x",
                               null, quick()));
            assertEquals(Sakhi.EINVAL, bad.code());
            assertTrue(!bad.detail().isEmpty(), "says what is wrong with the URI");
            String code = server.code("fw1");
            String wrongPin = server.pin.substring(1) + (server.pin.charAt(0) == '0' ? "1" : "0");
            String base = "sakhi:enroll?v=1&addr=127.0.0.1:" + server.port + "&code=" + code;
            assertEquals(Sakhi.ESERVERKEY, assertThrows(SakhiException.class,
                () -> c.enroll(base + "&pin=" + wrongPin, "java-uri", quick())).code());
            c.enroll(base + "&pin=" + server.pin + "\n", "java-uri", quick());
            Status st = c.status();
            assertTrue(st.enrolled);
            assertEquals(server.pin, st.serverPin);
            assertEquals(server.port, st.serverPort);
            TestSupport.capture(c, "withheld");
            assertSyncPushes(c, 1);
        }
    }
}

package org.sakhisync;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;

import java.io.File;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Comparator;
import java.util.stream.Stream;

/* Shared by the Java tests: temp store directories, cheap options, a complete referral. */
final class TestSupport {
    /** Leh's code in the district list a new centre starts with (the server sends the list). */
    static final int LEH = 1;

    private TestSupport() {
    }

    /* Six digits: stores here must pass a PIN policy of at least six digits. */
    static final char[] PIN = "461938".toCharArray();

    static OpenOptions fastOptions() {
        return new OpenOptions().kdfLog2N(10).app("sakhi-java-test");
    }

    /* The store at path, opened with PIN and o (fastOptions() with more set). */
    static SakhiClient open(Path path, OpenOptions o) throws SakhiException {
        return SakhiClient.open(path.toString(), PIN, o);
    }

    static SakhiClient open(Path path) throws SakhiException {
        return open(path, fastOptions());
    }

    static Path tempDir(String prefix) throws IOException {
        String base = System.getenv("TMPDIR");
        return Files.createTempDirectory(Path.of(base != null ? base : "/tmp"), prefix);
    }

    static void removeTree(Path dir) throws IOException {
        if (dir == null || !Files.exists(dir))
            return;
        try (Stream<Path> walk = Files.walk(dir)) {
            walk.sorted(Comparator.reverseOrder()).map(Path::toFile).forEach(File::delete);
        }
    }

    /* A referral with every required field set, as sk_td_referral makes it in the C tests. */
    static Referral complete(SakhiClient c, String name, int urgency) throws SakhiException {
        return c.newReferral()
            .district(TestSupport.LEH)
            .block("Nubra")
            .village("Diskit")
            .takenAt(Sakhi.TAKEN_ANGANWADI_CENTRE)
            .name(name)
            .ageBand(Sakhi.AGE_30_44)
            .addConcern(Sakhi.CONCERN_DOMESTIC_VIOLENCE)
            .urgency(urgency)
            .source(Sakhi.SOURCE_FRONTLINE_WORKER)
            .consent(true, false);
    }

    static String capture(SakhiClient c, String name) throws SakhiException {
        try (Referral r = complete(c, name, Sakhi.URGENCY_URGENT)) {
            return r.save();
        }
    }

    /* Open file descriptors of this process (Linux). */
    static int openFds() {
        String[] fds = new File("/proc/self/fd").list();
        return fds == null ? -1 : fds.length;
    }

    static long[] nativeCounts() {
        return Native.debugCounts();
    }

    /* Sync options with timeouts that fit a loaded test machine. */
    static SyncOptions quickSync() {
        return new SyncOptions().connectTimeoutMs(5000).ioTimeoutMs(20000);
    }

    /* A test class's end: close its device and server (either may be null), remove its directory,
     * and check that no native object or store handle was left behind. */
    static void finish(SakhiClient device, TestServer server, Path dir) throws Exception {
        if (device != null)
            device.close();
        if (server != null)
            server.close();
        removeTree(dir);
        assertArrayEquals(new long[] {0, 0}, nativeCounts());
    }
}

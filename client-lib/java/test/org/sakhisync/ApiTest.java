package org.sakhisync;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.lang.reflect.Field;
import java.lang.reflect.Modifier;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.function.IntFunction;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.function.Executable;

/* The binding offline: open, capture, list, show, follow-up, edit, errors, lifetimes, leaks. */
class ApiTest {
    private Path dir;

    @BeforeEach
    void setUp() throws Exception {
        dir = TestSupport.tempDir("sakhi-java-api");
    }

    @AfterEach
    void tearDown() throws Exception {
        TestSupport.removeTree(dir);
    }

    private SakhiClient open(String sub) throws SakhiException {
        return TestSupport.open(dir.resolve(sub));
    }

    @Test
    void constantsMatchTheHeader() throws Exception {
        String header = new String(Files.readAllBytes(Path.of(System.getProperty("sakhi.header"))),
                                   "UTF-8");
        Matcher m = Pattern.compile("#define SAKHI_([A-Z0-9_]+)\\s+\\(?(-?\\d+)\\)?").matcher(header);
        Map<String, Integer> defs = new HashMap<>();
        while (m.find())
            defs.put(m.group(1), Integer.parseInt(m.group(2)));
        defs.put("ESERVERKEY", -24); /* its value sits on the next line, after a comment */
        int checked = 0;
        for (Field f : Sakhi.class.getFields()) {
            if (!Modifier.isStatic(f.getModifiers()) || f.getType() != int.class)
                continue;
            if (f.getName().equals("ID_LENGTH")) {
                assertEquals(defs.get("ID_STRLEN") - 1, f.getInt(null));
                continue;
            }
            Integer want = defs.get(f.getName());
            assertTrue(want != null, "SAKHI_" + f.getName() + " is not in sakhi.h");
            assertEquals(want.intValue(), f.getInt(null), f.getName());
            checked++;
        }
        assertTrue(checked >= 99, "only " + checked + " constants compared");
        assertEquals("wrong PIN", Sakhi.strerror(Sakhi.EPIN).substring(0, 9));
        assertEquals("pending", Sakhi.syncStateName(Sakhi.SYNC_PENDING));
        assertTrue(Sakhi.version().matches("\\d+\\.\\d+\\.\\d+"), Sakhi.version());
    }

    @Test
    void captureListShowFollowupEdit() throws Exception {
        /* Devanagari, Tibetan and a character outside the BMP: UTF-8, not modified UTF-8. */
        String name = "सुनीता རྡོ་རྗེ 𑀲";
        String id;
        try (SakhiClient c = open("s")) {
            try (Referral r = TestSupport.complete(c, name, Sakhi.URGENCY_IMMEDIATE_DANGER)) {
                r.notes("ཞིབ་ཕྲ། notes");
                r.validate();
                id = r.save();
                assertEquals(id, r.id());
            }
            assertEquals(Sakhi.ID_LENGTH, id.length());
            assertEquals(1, c.pendingCount());

            ListPage page = c.list(null, 10);
            assertEquals(1, page.items.size());
            assertFalse(page.hasMore());
            ListItem it = page.items.get(0);
            assertEquals(id, it.id);
            assertEquals(Sakhi.STATUS_NEW, it.status);
            assertEquals(Sakhi.URGENCY_IMMEDIATE_DANGER, it.urgency);
            assertEquals(Sakhi.SYNC_PENDING, it.syncState);
            assertFalse(it.stub);
            assertTrue(Math.abs(System.currentTimeMillis() - it.createdMs) < 600000);

            c.addFollowup(id, "called back; ཁྱེད་རང་ 𑀲");
            try (Referral e = c.editReferral(id)) {
                e.urgency(Sakhi.URGENCY_ROUTINE).set("concerns", "child_marriage");
                assertEquals(id, e.save());
            }
            try (SakhiRecord rec = c.record(id)) {
                assertEquals(id, rec.id());
                assertEquals(name, rec.getString("name"));
                assertEquals("ཞིབ་ཕྲ། notes", rec.getString("notes"));
                assertEquals(Long.valueOf(Sakhi.URGENCY_ROUTINE), rec.getLong("urgency"));
                assertEquals(Long.valueOf(TestSupport.LEH), rec.getLong("district"));
                assertNull(rec.getString("phone"));
                assertEquals(Sakhi.SYNC_PENDING, rec.syncState());
                assertEquals(0, rec.version());
                assertEquals(List.of("called back; ཁྱེད་རང་ 𑀲"), rec.followups());
                SakhiException bad = assertThrows(SakhiException.class, () -> rec.getLong("name"));
                assertEquals(Sakhi.EINVAL, bad.code());
            }
            String json = c.recordJson(id);
            assertTrue(json.startsWith("{"), json);
            assertTrue(json.contains("\"" + id + "\""));
            assertTrue(json.contains(name), "JSON keeps the UTF-8 text");

            Status st = c.status();
            assertFalse(st.enrolled);
            assertEquals(3, st.pending);
            assertEquals(1, st.records);
            assertEquals(0, st.lastSyncMs);
            assertEquals("", st.serverPin);
        }
        /* Reopened: everything was durable. */
        try (SakhiClient c = open("s"); SakhiRecord rec = c.record(id)) {
            assertEquals(name, rec.getString("name"));
            assertEquals(3, c.pendingCount());
        }
    }

    @Test
    void errorsCarryCodeFieldAndMessage() throws Exception {
        try (SakhiClient c = open("s")) {
            try (Referral r = c.newReferral()) {
                r.district(TestSupport.LEH);
                SakhiException e = assertThrows(SakhiException.class, r::save);
                assertEquals(Sakhi.EVALIDATION, e.code());
                assertFalse(e.field().isEmpty(), "names the field");
                assertTrue(e.detail().startsWith(e.field() + ":"), e.detail());
                assertTrue(e.getMessage().contains(e.detail()));

                SakhiException age = assertThrows(SakhiException.class, () -> r.age(121));
                assertEquals(Sakhi.EINVAL, age.code());
                assertEquals("age", age.field());
                assertEquals("age: must be between 0 and 120", age.detail());

                SakhiException en = assertThrows(SakhiException.class,
                                                 () -> r.set("urgency", "no_such_level"));
                assertEquals(Sakhi.EINVAL, en.code());
                assertThrows(IllegalArgumentException.class, () -> r.name("a\0b"));
            }
            SakhiException nf = assertThrows(SakhiException.class,
                                             () -> c.record("01234567-89ab-cdef-0123-456789abcdef"));
            assertEquals(Sakhi.ENOTFOUND, nf.code());
            SakhiException bad = assertThrows(SakhiException.class, () -> c.record("not-an-id"));
            assertEquals(Sakhi.EINVAL, bad.code());
            /* Not enrolled: a sync fails with the code and what it did (nothing). */
            SyncException se = assertThrows(SyncException.class, () -> c.sync());
            assertEquals(Sakhi.ENOTENROLLED, se.code());
            assertEquals(0, se.result().pushed);
            /* Plaintext enrollment only ever goes to loopback. */
            SakhiException pe = assertThrows(SakhiException.class,
                () -> c.enroll(new EnrollOptions().server("192.0.2.1", 7447).code("x").plaintext(true), null));
            assertEquals(Sakhi.EINVAL, pe.code());
        }
    }

    /* The option setters refuse a value out of range at once, naming it, and take the bounds. */
    @Test
    void optionSettersRefuseValuesOutOfRange() {
        SyncOptions so = new SyncOptions();
        String[] names = {"connectTimeoutMs", "ioTimeoutMs", "stallTimeoutMs", "batchSize",
                          "pullLimit", "deadlineMs"};
        List<IntFunction<SyncOptions>> setters = List.of(
            so::connectTimeoutMs, so::ioTimeoutMs, so::stallTimeoutMs, so::batchSize, so::pullLimit,
            so::deadlineMs);
        for (int i = 0; i < names.length; i++) {
            IntFunction<SyncOptions> set = setters.get(i);
            assertSame(so, set.apply(i + 1));
            assertRefused(names[i] + " < 0", () -> set.apply(-1));
        }
        assertArrayEquals(new long[] {1, 2, 3, 4, 5, 6}, so.numbers(), "refused values not kept");
        OpenOptions o = new OpenOptions();
        assertRefused("mapSize < 0", () -> o.mapSize(-1));
        assertRefused("kdfLog2N < 0", () -> o.kdfLog2N(-1));
        assertRefused("maxPinAttempts < 0", () -> o.maxPinAttempts(-1));
        assertEquals(0, o.mapSize(0).kdfLog2N(0).maxPinAttempts(0).mapSize);
        EnrollOptions eo = new EnrollOptions();
        assertRefused("port out of range", () -> eo.server("127.0.0.1", 65536));
        assertNull(eo.host);
        assertRefused("port out of range", () -> so.server("127.0.0.1", -1));
        assertEquals(65535, eo.server("127.0.0.1", 65535).port);
        assertEquals(0, so.server(null, 0).port);
    }

    private static void assertRefused(String message, Executable setter) {
        assertEquals(message, assertThrows(IllegalArgumentException.class, setter).getMessage());
    }

    @Test
    void wrongPinIsCountedAndLocks() throws Exception {
        String path = dir.resolve("p").toString();
        OpenOptions o = TestSupport.fastOptions().maxPinAttempts(3);
        SakhiClient.open(path, TestSupport.PIN, o).close();
        char[] wrong = "135792".toCharArray();
        SakhiException e1 = assertThrows(SakhiException.class, () -> SakhiClient.open(path, wrong, o));
        assertEquals(Sakhi.EPIN, e1.code());
        /* A correct PIN resets the counter. */
        SakhiClient.open(path, TestSupport.PIN, o).close();
        assertEquals(Sakhi.EPIN, assertThrows(SakhiException.class, () -> SakhiClient.open(path, wrong, o)).code());
        assertEquals(Sakhi.EPIN, assertThrows(SakhiException.class, () -> SakhiClient.open(path, wrong, o)).code());
        assertEquals(Sakhi.ELOCKED, assertThrows(SakhiException.class, () -> SakhiClient.open(path, wrong, o)).code());
        assertEquals(Sakhi.ELOCKED, assertThrows(SakhiException.class,
                     () -> SakhiClient.open(path, TestSupport.PIN, o)).code());
    }

    @Test
    void listPagesWithACursor() throws Exception {
        try (SakhiClient c = open("l")) {
            List<String> ids = new ArrayList<>();
            for (int i = 0; i < 5; i++)
                ids.add(TestSupport.capture(c, "withheld"));
            List<String> seen = new ArrayList<>();
            ListFilter f = new ListFilter().pendingOnly(true);
            int pages = 0;
            do {
                ListPage p = c.list(f, 2);
                for (ListItem it : p.items)
                    seen.add(it.id);
                f.after(p.nextCursor);
                pages++;
            } while (f.after != null && pages < 10);
            assertEquals(ids, seen);
            assertEquals(3, pages);
            assertEquals(0, c.list(new ListFilter().syncState(Sakhi.SYNC_RECEIVED), 10).items.size());
            /* One page of more rows than JNI's local reference capacity: the layer must delete
             * each row's reference as it goes (-Xcheck:jni warns otherwise, failing the test). */
            for (int i = 0; i < 40; i++)
                ids.add(TestSupport.capture(c, "withheld"));
            ListPage all = c.list(null, SakhiClient.MAX_PAGE);
            assertEquals(45, all.items.size());
            assertEquals(ids.get(44), all.items.get(44).id);
            assertFalse(all.hasMore());
            assertThrows(IllegalArgumentException.class, () -> c.list(null, 0));
        }
    }

    @Test
    void closedObjectsRefuseUse() throws Exception {
        SakhiClient c = open("c");
        String id = TestSupport.capture(c, "withheld");
        SakhiRecord rec = c.record(id);
        Referral draft = c.newReferral();
        c.close();
        c.close(); /* idempotent */
        assertTrue(c.isClosed());
        assertThrows(IllegalStateException.class, c::status);
        assertThrows(IllegalStateException.class, () -> rec.getString("name"));
        assertThrows(IllegalStateException.class, () -> draft.name("x"));
        rec.close(); /* already freed by the client: no double free */
        draft.close();
        c.cancelSync(); /* nothing to cancel, no failure */
        assertArrayEquals(new long[] {0, 0}, TestSupport.nativeCounts());
    }

    /* Many cycles of open, read, draft and close leave no native object, byte or descriptor. */
    @Test
    void openCloseCyclesLeakNothing() throws Exception {
        String id;
        try (SakhiClient c = open("cy")) {
            id = TestSupport.capture(c, "withheld");
        }
        /* One warm-up cycle: the JVM and libc set things up once. */
        try (SakhiClient c = open("cy"); SakhiRecord r = c.record(id)) {
            r.getString("name");
        }
        assertArrayEquals(new long[] {0, 0}, TestSupport.nativeCounts());
        int fds = TestSupport.openFds();
        for (int i = 0; i < 300; i++) {
            SakhiClient c = open("cy");
            SakhiRecord r = c.record(id);
            assertEquals("withheld", r.getString("name"));
            Referral d = c.newReferral(); /* left open: closing the client frees it */
            d.name("draft " + i);
            if (i % 2 == 0)
                r.close();
            c.list(null, 10);
            c.status();
            c.recordJson(id);
            assertThrows(SakhiException.class, () -> c.record("bad"));
            long[] live = TestSupport.nativeCounts();
            assertEquals(i % 2 == 0 ? 2 : 3, live[0]);
            assertNotEquals(0, live[1]);
            c.close();
        }
        assertArrayEquals(new long[] {0, 0}, TestSupport.nativeCounts());
        assertEquals(fds, TestSupport.openFds());
    }

    @Test
    void weakPinsAreRefusedForNewStores() throws Exception {
        assertEquals("", Sakhi.checkPin(TestSupport.PIN));
        assertFalse(Sakhi.checkPin("123456".toCharArray()).isEmpty());
        assertFalse(Sakhi.checkPin("12345".toCharArray()).isEmpty());
        SakhiException e = assertThrows(SakhiException.class,
            () -> SakhiClient.open(dir.resolve("w").toString(), "123456".toCharArray(),
                                   TestSupport.fastOptions()));
        assertEquals(Sakhi.EWEAKPIN, e.code());
        assertFalse(Files.exists(dir.resolve("w").resolve("data.mdb")), "nothing was created");
    }

    /* A key provider written in Java guards the store: it is called to wrap at creation and to
     * unwrap at each open; its refusals come back as the library's codes; what else it throws
     * reaches the caller unchanged and the store still opens afterwards. */
    @Test
    void keyProviderGuardsTheStore() throws Exception {
        String path = dir.resolve("k").toString();
        SoftKeyProvider kp = new SoftKeyProvider(3);
        String id;
        try (SakhiClient c = SakhiClient.open(path, TestSupport.PIN,
                                              TestSupport.fastOptions().keyProvider(kp))) {
            id = TestSupport.capture(c, "withheld");
        }
        assertTrue(kp.wraps >= 1, "wrapped at creation");
        SakhiException none = assertThrows(SakhiException.class,
            () -> SakhiClient.open(path, TestSupport.PIN, TestSupport.fastOptions()));
        assertEquals(Sakhi.EKEYPROVIDER, none.code());

        char[] wrong = "730162".toCharArray();
        SakhiException bad = assertThrows(SakhiException.class,
            () -> SakhiClient.open(path, wrong, TestSupport.fastOptions().keyProvider(kp)));
        assertEquals(Sakhi.EPIN, bad.code());
        assertEquals(1, kp.failures);

        IllegalStateException boom = new IllegalStateException("keystore unavailable");
        kp.throwNext = boom;
        assertSame(boom, assertThrows(IllegalStateException.class,
            () -> SakhiClient.open(path, TestSupport.PIN, TestSupport.fastOptions().keyProvider(kp))));

        int before = kp.unwraps;
        try (SakhiClient c = SakhiClient.open(path, TestSupport.PIN,
                                              TestSupport.fastOptions().keyProvider(kp));
             SakhiRecord r = c.record(id)) {
            assertEquals("withheld", r.getString("name"));
        }
        assertEquals(before + 1, kp.unwraps);
        assertEquals(0, kp.failures, "a correct PIN resets the provider's counter");

        /* The provider's limit: it destroys its key and the library wipes the store, so the
         * referral is gone even for the right PIN (a fresh provider finds an empty store). */
        for (int i = 0; i < 2; i++)
            assertEquals(Sakhi.EPIN, assertThrows(SakhiException.class,
                () -> SakhiClient.open(path, wrong, TestSupport.fastOptions().keyProvider(kp))).code());
        assertEquals(Sakhi.ELOCKED, assertThrows(SakhiException.class,
            () -> SakhiClient.open(path, wrong, TestSupport.fastOptions().keyProvider(kp))).code());
        try (SakhiClient c = SakhiClient.open(path, TestSupport.PIN,
                 TestSupport.fastOptions().keyProvider(new SoftKeyProvider(3)))) {
            assertEquals(0, c.status().records);
            assertEquals(Sakhi.ENOTFOUND, assertThrows(SakhiException.class, () -> c.record(id)).code());
        }
        assertArrayEquals(new long[] {0, 0}, TestSupport.nativeCounts());
    }
}

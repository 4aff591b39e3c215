package org.sakhisync;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.OutputStreamWriter;
import java.io.Writer;
import java.nio.charset.StandardCharsets;
import java.util.concurrent.TimeUnit;

/*
 * A real sakhi-server on 127.0.0.1 with TLS, run by the java_test_server helper program (path in
 * the system property sakhi.test.server). One line per command; see java_test_server.c.
 */
final class TestServer implements AutoCloseable {
    private final Process proc;
    private final BufferedReader out;
    private final Writer in;
    final int port;
    final String pin;

    TestServer() throws IOException {
        String bin = System.getProperty("sakhi.test.server");
        if (bin == null)
            throw new IllegalStateException("system property sakhi.test.server is not set");
        proc = new ProcessBuilder(bin).redirectError(ProcessBuilder.Redirect.INHERIT).start();
        out = new BufferedReader(new InputStreamReader(proc.getInputStream(), StandardCharsets.UTF_8));
        in = new OutputStreamWriter(proc.getOutputStream(), StandardCharsets.UTF_8);
        String ready = out.readLine();
        if (ready == null || !ready.startsWith("ready ")) {
            proc.destroyForcibly();
            throw new IOException("test server did not start: " + ready);
        }
        int p = 0;
        String k = null;
        for (String kv : ready.substring(6).split(" ")) {
            if (kv.startsWith("port="))
                p = Integer.parseInt(kv.substring(5));
            else if (kv.startsWith("pin="))
                k = kv.substring(4);
        }
        port = p;
        pin = k;
    }

    private String ask(String cmd, String answer) throws IOException {
        in.write(cmd + "\n");
        in.flush();
        String line = out.readLine();
        if (line == null || !line.startsWith(answer + " "))
            throw new IOException("test server: " + cmd + " -> " + line);
        return line.substring(answer.length() + 1);
    }

    String code(String worker) throws IOException {
        return ask("code " + worker, "code");
    }

    /* {records, seq} of the server's store. */
    long[] stats() throws IOException {
        String s = ask("stats", "stats");
        long[] v = new long[2];
        for (String kv : s.split(" ")) {
            if (kv.startsWith("records="))
                v[0] = Long.parseLong(kv.substring(8));
            else if (kv.startsWith("seq="))
                v[1] = Long.parseLong(kv.substring(4));
        }
        return v;
    }

    @Override
    public void close() throws IOException {
        try {
            in.write("quit\n");
            in.flush();
            in.close();
        } catch (IOException e) {
            /* already gone: waited for below */
        }
        boolean done;
        try {
            done = proc.waitFor(20, TimeUnit.SECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            done = false;
        }
        if (!done) {
            proc.destroyForcibly();
            throw new IOException("test server did not stop");
        }
        if (proc.exitValue() != 0)
            throw new IOException("test server exited with " + proc.exitValue());
    }
}

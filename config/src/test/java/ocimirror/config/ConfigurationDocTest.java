package ocimirror.config;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import com.fasterxml.jackson.annotation.JsonProperty;
import java.io.IOException;
import java.lang.reflect.ParameterizedType;
import java.lang.reflect.RecordComponent;
import java.lang.reflect.Type;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collection;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;

/**
 * Every key a configuration file may hold is documented in docs/configuration.md, in the
 * table of keys, and that table names no key the file cannot hold.
 *
 * <p>The keys are those of {@link ConfigLoader.FileConfig}, the record tree Jackson reads the
 * file into (unknown keys are errors there), walked by reflection: record components named as
 * Jackson names them ({@code @JsonProperty} or the component's name), nested records as
 * {@code a.b}, lists of records as {@code a[].b}, maps of records as {@code a.<name>.b}.
 * {@link MirrorConfig} is not walked: its components are the model, not the file
 * ({@code dataDir} is {@code data}, {@code observability} is {@code metrics} and {@code log}).
 */
class ConfigurationDocTest {

    // Surefire runs in the module's directory and sets basedir to it.
    private static final Path DOC = Path.of(System.getProperty("basedir", ""))
            .toAbsolutePath().resolve("../docs/configuration.md").normalize();
    private static final Pattern CODE = Pattern.compile("`([^`]+)`");

    @Test
    void everyKeyOfTheFileIsInTheTableOfKeys() throws IOException {
        Set<String> missing = new TreeSet<>(leafKeys());
        missing.removeAll(documentedKeys());
        assertTrue(missing.isEmpty(), DOC + " does not document these configuration keys (add a row"
                + " to its table of keys, with the default and the meaning): " + missing);
    }

    @Test
    void theTableOfKeysNamesOnlyKeysTheFileCanHold() throws IOException {
        Set<String> known = new TreeSet<>(leafKeys());
        known.addAll(sectionKeys());
        Set<String> unknown = new TreeSet<>(documentedKeys());
        unknown.removeAll(known);
        assertTrue(unknown.isEmpty(), DOC + " documents keys the configuration file does not have: " + unknown);
    }

    /** The walk names keys as the loader reads them: each one, set alone, is not an unknown field. */
    @Test
    void theWalkNamesKeysAsTheLoaderReadsThem() {
        List<String> keys = leafKeys();
        assertTrue(keys.containsAll(List.of("listen", "limits.maxManifestBytes", "upstreams[].default",
                "upstreams[].credentials.username", "upstreams[].timeouts.firstByte", "metrics.public",
                "cache.pins", "shutdown.gracePeriod")), keys.toString());
        assertFalse(keys.contains("metrics.publicMetrics"), "@JsonProperty names the key");
        for (String key : keys) {
            try {
                ConfigLoader.parse(yamlSetting(key), "t.yaml", false);
            } catch (ConfigException e) {
                assertFalse(e.getMessage().contains("unknown field"), key + ": " + e.getMessage());
            }
        }
        try {
            ConfigLoader.parse(yamlSetting("limits.maxManifestSize"), "t.yaml", false);
            fail("a key that is not in the file's records is refused");
        } catch (ConfigException e) {
            assertTrue(e.getMessage().contains("unknown field"), e.getMessage());
        }
    }

    @Test
    void aRowDocumentsEveryKeyInItsFirstCellOnly() {
        Set<String> documented = documentedKeys(List.of("text `data`", "| key | default | meaning |", "|---|---|---|",
                "| `listen` | `0.0.0.0:5000` | `hosted` |", "| `tls.certFile`, `tls.keyFile` | none | files |",
                "", "| name | url |", "| `gcr.io` | x |"));
        assertEquals(Set.of("listen", "tls.certFile", "tls.keyFile"), documented);
    }

    /** Every key that holds a value (not a section), in the order of the records. */
    static List<String> leafKeys() {
        List<String> out = new ArrayList<>();
        walk(ConfigLoader.FileConfig.class, "", out, false);
        return out;
    }

    private static List<String> sectionKeys() {
        List<String> out = new ArrayList<>();
        walk(ConfigLoader.FileConfig.class, "", out, true);
        return out;
    }

    private static void walk(Class<?> record, String prefix, List<String> out, boolean sections) {
        for (RecordComponent c : record.getRecordComponents()) {
            String key = prefix + jsonName(record, c);
            Type t = c.getGenericType();
            Class<?> nested = recordIn(t, Collection.class, 0);
            Class<?> valueRecord = recordIn(t, Map.class, 1);
            if (c.getType().isRecord()) {
                addIf(sections, key, out);
                walk(c.getType(), key + ".", out, sections);
            } else if (nested != null) {
                addIf(sections, key, out);
                walk(nested, key + "[].", out, sections);
            } else if (valueRecord != null) {
                addIf(sections, key, out);
                walk(valueRecord, key + ".<name>.", out, sections);
            } else {
                addIf(!sections, key, out);
            }
        }
    }

    /**
     * The name Jackson gives a component. {@code @JsonProperty} does not target record components,
     * so Java keeps it on the field, accessor and constructor parameter the component yields.
     */
    private static String jsonName(Class<?> record, RecordComponent c) {
        JsonProperty p = c.getAccessor().getAnnotation(JsonProperty.class);
        if (p == null) {
            try {
                p = record.getDeclaredField(c.getName()).getAnnotation(JsonProperty.class);
            } catch (NoSuchFieldException e) {
                throw new AssertionError(e);
            }
        }
        return p != null && !p.value().isEmpty() ? p.value() : c.getName();
    }

    private static void addIf(boolean add, String key, List<String> out) {
        if (add) {
            out.add(key);
        }
    }

    /** The record type argument {@code index} of {@code t} when {@code t} is a {@code container}, else null. */
    private static Class<?> recordIn(Type t, Class<?> container, int index) {
        if (t instanceof ParameterizedType pt && pt.getRawType() instanceof Class<?> raw
                && container.isAssignableFrom(raw) && pt.getActualTypeArguments()[index] instanceof Class<?> arg
                && arg.isRecord()) {
            return arg;
        }
        return null;
    }

    private static Set<String> documentedKeys() throws IOException {
        assertTrue(Files.isRegularFile(DOC), DOC + " is missing");
        return documentedKeys(Files.readAllLines(DOC));
    }

    /** The code spans of the first cell of each row of the table whose header is "| key | default | meaning |". */
    static Set<String> documentedKeys(List<String> lines) {
        Set<String> keys = new TreeSet<>();
        boolean inTable = false;
        for (String line : lines) {
            String l = line.trim();
            if (l.replace(" ", "").equals("|key|default|meaning|")) {
                inTable = true;
            } else if (inTable && !l.startsWith("|")) {
                inTable = false;
            } else if (inTable && !l.startsWith("|---")) {
                String firstCell = l.substring(1, l.indexOf('|', 1));
                Matcher m = CODE.matcher(firstCell);
                while (m.find()) {
                    keys.add(m.group(1));
                }
            }
        }
        assertFalse(keys.isEmpty(), "no table of keys (| key | default | meaning |)");
        return keys;
    }

    /** A YAML document that sets {@code key} (a path as {@link #leafKeys()} writes it) to null. */
    private static String yamlSetting(String key) {
        StringBuilder yaml = new StringBuilder();
        String[] parts = key.split("\\.");
        String indent = "";
        for (int i = 0; i < parts.length; i++) {
            String part = parts[i];
            boolean list = part.endsWith("[]");
            String name = list ? part.substring(0, part.length() - 2) : part;
            yaml.append(indent).append(name).append(i == parts.length - 1 ? ": null" : ":").append('\n');
            indent += "  ";
            if (list) {
                yaml.append(indent).append("-\n");
                indent += "  ";
            }
        }
        return yaml.toString();
    }
}

/*
 * schema_form.c - a capture form built from libsakhi's schema, as an app's screen would be: each
 * field the form asks for, labelled in the worker's language, with whether it is required and
 * the choices of an enumeration. It prints the form; an app would lay out widgets instead.
 *
 *   sakhi-example-form [LANG]      LANG: en (default), hi, ur, lbj
 *
 * docs/CLIENT-API.md ("Forms from the schema") quotes this program; CI builds and runs it.
 */
#include <sakhi/sakhi.h>

#include <stdio.h>
#include <string.h>

int main(int argc, char **argv)
{
    const char *lang = argc > 1 ? argv[1] : "en";
    char key[128];

    for (size_t i = 0; i < sakhi_schema_field_count(); i++) {
        sakhi_field_info f = SAKHI_FIELD_INFO_INIT;
        if (sakhi_schema_field(&f, i) != 0 || !f.capture)
            continue; /* the rest is set by the library, the server or centre staff */
        printf("%s%s", sakhi_label(lang, f.name), f.required == SAKHI_REQUIRED_YES ? " *" : "");
        if (f.required == SAKHI_REQUIRED_WHEN)
            printf(" (required when %s)", f.required_when);
        if (f.type == SAKHI_TYPE_TEXT)
            printf(" [up to %llu characters]", (unsigned long long)f.max);
        printf("\n");
        if (strcmp(f.name, "district") == 0) /* the centre's list, which the server sends */
            printf("  (the districts come from the server: sakhi_district_count, "
                   "sakhi_district_get)\n");
        for (size_t v = 0; f.enumeration && v < sakhi_schema_enum_count(f.enumeration); v++) {
            unsigned code;
            const char *name;
            if (sakhi_schema_enum_value(&code, &name, f.enumeration, v) != 0)
                break;
            snprintf(key, sizeof(key), "%s.%s", f.enumeration, name);
            printf("  %u %s\n", code, sakhi_label(lang, key));
        }
    }
    /* A validation message from a save, or a server's reason for a rejected change, shown in
     * the worker's language: */
    char msg[256];
    sakhi_message(msg, sizeof(msg), lang, "name: must not be blank");
    printf("%s\n", msg);
    return 0;
}

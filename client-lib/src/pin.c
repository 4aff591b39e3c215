/*
 * pin.c - which PINs a new store accepts.
 *
 * A copied store without a key provider is as strong as its PIN times the Argon2id cost, so the
 * PIN must be long and not one an attacker tries first. Rules (docs/SECURITY.md, "PINs"):
 *   - at least SAKHI_PIN_MIN_LEN (6) characters;
 *   - a PIN of digits only is refused when it follows a pattern people pick far more often than
 *     chance: one digit repeated (111111), a run up or down, wrapping or not (123456, 987654,
 *     890123), a block repeated (121212, 123123, 12341234), a palindrome (123321),
 *     pairs climbing or falling (112233, 332211), or lines of the phone keypad joined
 *     (147258, 789456, 159357). Studies of real 6-digit PINs find these patterns at the top of
 *     every list (Wang, Hou, Yan, Wang, "Understanding Human-chosen PINs", AsiaCCS 2017;
 *     Markert, Bailey, Golla, Dürmuth, Aviv, "This PIN Can Be Easily Guessed", IEEE S&P 2020,
 *     whose measurements showed a blocklist of a few thousand such PINs costs users little);
 *     together they refuse 2,246 of the 1,000,000 six-digit PINs (tests/unit/test_store_pin.c counts them);
 *   - a passphrase (anything with a non-digit) must not be one character repeated.
 * Pure functions, no state, no allocation; the PIN is never copied or logged.
 */
#include "sk_client.h"

#include <string.h>

/* The phone keypad's lines of three, in both directions: rows, columns, diagonals. */
static const char *const k_keypad[] = {"123", "456", "789", "147", "258", "369", "159", "357",
                                       "321", "654", "987", "741", "852", "963", "951", "753"};

static int all_digits(const char *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (p[i] < '0' || p[i] > '9')
            return 0;
    return 1;
}

/* Every digit equals the one `period` places before it. */
static int periodic(const char *p, size_t n, size_t period)
{
    for (size_t i = period; i < n; i++)
        if (p[i] != p[i - period])
            return 0;
    return 1;
}

/* The PIN is one block written two or more times (121212, 123123, 12341234). */
static int repeated_block(const char *p, size_t n)
{
    for (size_t period = 2; period <= n / 2; period++)
        if (n % period == 0 && periodic(p, n, period))
            return 1;
    return 0;
}

/* Each digit is the previous one plus step (mod 10). */
static int run(const char *p, size_t n, int step)
{
    for (size_t i = 1; i < n; i++)
        if ((p[i - 1] - '0' + 10 + step) % 10 != p[i] - '0')
            return 0;
    return 1;
}

static int palindrome(const char *p, size_t n)
{
    for (size_t i = 0; i < n / 2; i++)
        if (p[i] != p[n - 1 - i])
            return 0;
    return 1;
}

/* Pairs of equal digits climbing or falling by one: 112233, 998877. */
static int climbing_pairs(const char *p, size_t n)
{
    if (n % 2)
        return 0;
    for (size_t i = 0; i < n; i += 2)
        if (p[i] != p[i + 1])
            return 0;
    int up = 1, down = 1;
    for (size_t i = 2; i < n; i += 2) {
        up &= p[i] == p[i - 2] + 1;
        down &= p[i] == p[i - 2] - 1;
    }
    return up || down;
}

/* Made of whole keypad lines of three: 147258, 789456123. */
static int keypad_lines(const char *p, size_t n)
{
    if (n % 3)
        return 0;
    for (size_t i = 0; i < n; i += 3) {
        int hit = 0;
        for (size_t k = 0; k < sizeof(k_keypad) / sizeof(k_keypad[0]) && !hit; k++)
            hit = memcmp(p + i, k_keypad[k], 3) == 0;
        if (!hit)
            return 0;
    }
    return 1;
}

int sk_pin_check(const char *pin, const char **why)
{
    const char *reason = NULL;
    size_t n = pin ? strlen(pin) : 0;
    if (n < SAKHI_PIN_MIN_LEN)
        reason = "the PIN must have at least 6 digits";
    else if (n > 256)
        reason = "the PIN is longer than 256 bytes";
    else if (periodic(pin, n, 1))
        reason = "the PIN repeats one character";
    else if (all_digits(pin, n)) {
        if (run(pin, n, 1) || run(pin, n, -1))
            reason = "the PIN is a run of digits (like 123456)";
        else if (repeated_block(pin, n))
            reason = "the PIN repeats a short block (like 121212 or 123123)";
        else if (palindrome(pin, n))
            reason = "the PIN reads the same backwards (like 123321)";
        else if (climbing_pairs(pin, n))
            reason = "the PIN is pairs in a row (like 112233)";
        else if (keypad_lines(pin, n))
            reason = "the PIN follows lines of the keypad (like 147258)";
    }
    if (why)
        *why = reason ? reason : "";
    return reason ? SAKHI_EWEAKPIN : 0;
}

int sakhi_pin_check(const char *pin, const char **reason_out)
{
    return sk_pin_check(pin, reason_out);
}

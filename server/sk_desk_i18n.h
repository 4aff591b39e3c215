/*
 * sk_desk_i18n.h - the desk's string catalog: every word a page shows, in English and Hindi.
 *
 * One table (sk_desk_i18n.c) holds each message in both languages side by side, so a message
 * cannot exist in one language only. Pages ask for sk_t(lang, T_...); field values from the
 * store are shown as they are (escaped), enumeration names through sk_t_enum.
 */
#ifndef SK_DESK_I18N_H
#define SK_DESK_I18N_H

#include "sk_case.h"

enum { SK_LANG_EN = 0, SK_LANG_HI = 1, SK_LANG_COUNT = 2 };

#define SK_DESK_MESSAGES(X)                                                                        \
    X(T_TITLE, "Sakhi centre desk", "सखी केंद्र डेस्क")                                                 \
    X(T_LOGIN, "Log in", "लॉग इन करें")                                                              \
    X(T_LOGOUT, "Log out", "लॉग आउट")                                                              \
    X(T_NAME, "Name", "नाम")                                                                       \
    X(T_PASSWORD, "Password", "पासवर्ड")                                                            \
    X(T_PASSWORD_AGAIN, "Password again", "पासवर्ड दोबारा")                                         \
    X(T_TOTP, "Code from your authenticator app (if set up)", "ऑथेंटिकेटर ऐप का कोड (यदि चालू है)")     \
    X(T_LOGIN_FAILED, "Wrong name, password or code.", "नाम, पासवर्ड या कोड गलत है।")                \
    X(T_RATE_LIMITED, "Too many failed attempts from this computer. Try again in a few minutes.",  \
      "इस कंप्यूटर से बहुत सारे असफल प्रयास। कुछ मिनट बाद फिर कोशिश करें।")                                  \
    X(T_BUSY, "The server is busy. Try again in a moment.",                                        \
      "सर्वर व्यस्त है। थोड़ी देर में फिर कोशिश करें।")                                                      \
    X(T_SESSION_ENDED, "Your session has ended. Please log in again.",                             \
      "आपका सत्र समाप्त हो गया है। कृपया फिर से लॉग इन करें।")                                            \
    X(T_CSRF, "This form has expired. Go back, reload the page and try again.",                    \
      "यह फ़ॉर्म पुराना हो गया है। वापस जाएँ, पेज फिर से खोलें और दोबारा कोशिश करें।")                        \
    X(T_SETUP, "Set your password", "अपना पासवर्ड बनाएँ")                                            \
    X(T_SETUP_BAD,                                                                                 \
      "This setup link is unknown, used or expired. Ask the administrator for a new one.",         \
      "यह लिंक अमान्य, उपयोग किया हुआ या पुराना है। व्यवस्थापक से नया लिंक माँगें।")                           \
    X(T_PW_RULES, "At least 10 characters; both entries the same.",                                \
      "कम से कम 10 अक्षर; दोनों बार एक जैसा।")                                                         \
    X(T_PW_SET, "Password set. You can log in now.", "पासवर्ड बन गया। अब लॉग इन करें।")               \
    X(T_WORKLIST, "Worklist", "कार्य सूची")                                                          \
    X(T_INBOX, "New referrals to accept or decline", "स्वीकार या अस्वीकार करने के लिए नए रेफ़रल")        \
    X(T_OPEN_CASES, "Open cases", "खुले मामले")                                                       \
    X(T_NONE, "Nothing here.", "यहाँ कुछ नहीं है।")                                                    \
    X(T_CASE, "Case", "मामला")                                                                     \
    X(T_CAPTURED, "Captured", "दर्ज किया")                                                          \
    X(T_WAITING, "Waiting", "प्रतीक्षा")                                                             \
    X(T_URGENCY, "Urgency", "तात्कालिकता")                                                          \
    X(T_STATUS, "Status", "स्थिति")                                                                 \
    X(T_DISTRICT, "District", "ज़िला")                                                              \
    X(T_VILLAGE, "Village", "गाँव")                                                                 \
    X(T_WORKER, "Field worker", "फ़ील्ड कार्यकर्ता")                                                   \
    X(T_CONCERNS, "Concerns", "समस्याएँ")                                                            \
    X(T_REVIEW, "needs review", "समीक्षा आवश्यक")                                                    \
    X(T_MINOR, "minor", "नाबालिग")                                                                 \
    X(T_OPEN, "Open", "खोलें")                                                                       \
    X(T_ACCEPT, "Accept", "स्वीकार करें")                                                             \
    X(T_FILTER, "Filter", "छाँटें")                                                                   \
    X(T_ALL, "all", "सभी")                                                                         \
    X(T_URGENT_ONLY, "urgent only", "केवल तत्काल")                                                   \
    X(T_IDENTITY, "Identity", "पहचान")                                                             \
    X(T_HIDDEN, "hidden", "छिपा हुआ")                                                               \
    X(T_SHOW_IDENTITY, "Show name and contact (recorded in the audit trail)",                      \
      "नाम और संपर्क दिखाएँ (ऑडिट में दर्ज होगा)")                                                       \
    X(T_NO_IDENTITY, "Your role may not see this minor's identity.",                               \
      "आपकी भूमिका इस नाबालिग की पहचान नहीं देख सकती।")                                               \
    X(T_PHONE, "Phone", "फ़ोन")                                                                     \
    X(T_AGE, "Age", "आयु")                                                                          \
    X(T_NOTES, "Notes at capture", "दर्ज करते समय की टिप्पणी")                                        \
    X(T_SERVICES, "Services", "सेवाएँ")                                                              \
    X(T_ENTRIES, "Follow-ups and notes", "फ़ॉलो-अप और टिप्पणियाँ")                                    \
    X(T_HISTORY, "History", "इतिहास")                                                              \
    X(T_VIEWED_BY, "Viewed and changed by", "किसने देखा और बदला")                                    \
    X(T_ACTIONS, "Actions", "कार्रवाई")                                                             \
    X(T_DONE, "Done.", "हो गया।")                                                                  \
    X(T_REFUSED, "Refused", "अस्वीकृत")                                                              \
    X(T_NOT_FOUND, "Not found.", "नहीं मिला।")                                                      \
    X(T_FORBIDDEN, "Your role may not do this.", "आपकी भूमिका यह नहीं कर सकती।")                     \
    X(T_LAST_UPDATE, "Updated", "अद्यतन")                                                           \
    X(T_CASE_NO, "Case number", "मामला संख्या")                                                      \
    X(T_ASSIGNED, "Assigned", "सौंपा गया")                                                          \
    X(T_ADD_NOTE, "Add a case note", "मामले की टिप्पणी जोड़ें")                                         \
    X(T_SAVE, "Save", "सहेजें")                                                                       \
    X(T_CLOSE_CASE, "Close with reason", "कारण सहित बंद करें")                                        \
    X(T_LANGUAGE, "हिन्दी", "English")                                                              \
    X(T_SIGNED_IN_AS, "Signed in as", "लॉग इन:")                                                   \
    X(T_WHEN, "When", "कब")                                                                        \
    X(T_WHO, "Who", "कौन")                                                                         \
    X(T_WHAT, "What", "क्या")                                                                       \
    X(T_DECLINE, "Decline", "अस्वीकार करें")                                                          \
    X(T_REASON, "Reason", "कारण")                                                                  \
    X(T_START_SERVICE, "Start services", "सेवाएँ शुरू करें")                                             \
    X(T_ASSIGN, "Assign", "सौंपें")                                                                   \
    X(T_OWNER, "Staff member", "स्टाफ़ सदस्य")                                                        \
    X(T_KEEP, "(keep)", "(जैसा है)")                                                                 \
    X(T_NOBODY, "(nobody)", "(कोई नहीं)")                                                           \
    X(T_SET_SERVICE, "Set service status", "सेवा की स्थिति बदलें")                                     \
    X(T_SHELTER_START, "Start temporary shelter (5 days)", "अस्थायी आश्रय शुरू करें (5 दिन)")            \
    X(T_SHELTER_EXTEND, "Extend shelter to (days)", "आश्रय बढ़ाएँ (दिन)")                             \
    X(T_FROM_DATE, "From (date)", "से (तारीख)")                                                     \
    X(T_REFER, "Refer onward", "आगे भेजें")                                                            \
    X(T_DESTINATION, "Destination", "गंतव्य")                                                        \
    X(T_DETAIL, "Name of the place", "स्थान का नाम")                                                \
    X(T_OVERRIDE, "Reason to refer without her consent (audited)",                                 \
      "उसकी सहमति के बिना भेजने का कारण (ऑडिट में दर्ज)")                                                \
    X(T_NO_CONSENT, "She has not consented to sharing: an override reason is required.",           \
      "उसने जानकारी साझा करने की सहमति नहीं दी है: कारण देना ज़रूरी है।")                                  \
    X(T_REOPEN, "Reopen with reason", "कारण सहित फिर खोलें")                                         \
    X(T_CLOSE_REQUESTED, "Closure requested: a second staff member must approve it.",              \
      "बंद करने का अनुरोध दर्ज: दूसरे स्टाफ़ सदस्य की स्वीकृति चाहिए।")                                       \
    X(T_TASKS, "Tasks", "कार्य")                                                                    \
    X(T_TASK, "Task", "कार्य")                                                                      \
    X(T_ADD_TASK, "Add a task", "कार्य जोड़ें")                                                        \
    X(T_FOR, "For", "किसके लिए")                                                                    \
    X(T_DUE, "Due", "नियत तारीख")                                                                  \
    X(T_DONE_BTN, "Done", "पूरा")                                                                   \
    X(T_CANCEL_BTN, "Cancel task", "कार्य रद्द करें")                                                  \
    X(T_REOPEN_TASK, "Open again", "फिर से खोलें")                                                    \
    X(T_NOTE, "Note", "टिप्पणी")                                                                    \
    X(T_CONFLICTS, "Conflicting edits to review", "समीक्षा के लिए टकराते बदलाव")                      \
    X(T_KEEP_VALUE, "Keep this value", "यह मान रखें")                                                \
    X(T_KEEP_ALL, "Keep the current values and clear the flag", "मौजूदा मान रखें और चिह्न हटाएँ")       \
    X(T_CURRENT, "current", "मौजूदा")                                                               \
    X(T_BY, "by", "द्वारा")                                                                         \
    X(T_CHANGES, "Who changed what", "किसने क्या बदला")                                              \
    X(T_BAD_FORM, "Some of the form's values are missing or not valid.",                           \
      "फ़ॉर्म के कुछ मान नहीं हैं या सही नहीं हैं।")                                                         \
    X(T_ALERTS, "Alerts", "सूचनाएँ")                                                                 \
    X(T_SEARCH, "Search", "खोजें")                                                                   \
    X(T_MY_TASKS, "My open tasks", "मेरे खुले कार्य")                                                   \
    X(T_OVERDUE, "overdue", "समय बीत गया")                                                         \
    X(T_DUE_TODAY, "due within a day", "एक दिन में")                                                 \
    X(T_DUE_SOON, "due within 7 days", "7 दिन में")                                                  \
    X(T_LATER, "later", "बाद में")                                                                   \
    X(T_CHANGED_BY, "Changed by someone else", "किसी और ने बदला")                                   \
    X(T_TASK_OVERDUE, "A task of mine is overdue", "मेरा एक कार्य समय से पीछे है")                      \
    X(T_SEARCH_HINT,                                                                               \
      "Name, phone, village or case number (2 to 64 characters). Every search is recorded in the " \
      "audit trail.",                                                                              \
      "नाम, फ़ोन, गाँव या मामला संख्या (2 से 64 अक्षर)। हर खोज ऑडिट में दर्ज होती है।")                      \
    X(T_RESULTS, "Results", "परिणाम")                                                              \
    X(T_DEVICES, "Devices and workers", "डिवाइस और कार्यकर्ता")                                      \
    X(T_REPORT, "Monthly report", "मासिक रिपोर्ट")                                                  \
    X(T_AUDIT, "Audit trail", "ऑडिट")                                                              \
    X(T_ENROLL, "Enrol a phone", "फ़ोन जोड़ें")                                                        \
    X(T_ENROLL_HINT,                                                                               \
      "Scan this code with the Sakhi app on the new phone within 24 hours, or type the code. It "  \
      "works once.",                                                                               \
      "नए फ़ोन पर सखी ऐप से 24 घंटे के भीतर यह कोड स्कैन करें, या कोड लिखें। यह एक ही बार काम करता है।")       \
    X(T_ENROLL_CODE, "One-time code:", "एक बार का कोड:")                                           \
    X(T_DEVICE, "Device", "डिवाइस")                                                                \
    X(T_LAST_SEEN, "Last seen", "आख़िरी बार देखा")                                                   \
    X(T_REVOKE, "Revoke", "रद्द करें")                                                                \
    X(T_REVOKED, "revoked", "रद्द")                                                                 \
    X(T_ADMIN_ONLY, "Only an administrator may open this page.", "यह पेज केवल व्यवस्थापक खोल सकते हैं।")  \
    X(T_REPORT_HINT,                                                                               \
      "The month in India Standard Time, the figures of sakhi-admin report, inside your scope; "   \
      "counts only.",                                                                              \
      "भारतीय मानक समय का महीना, sakhi-admin report के आँकड़े, आपके दायरे में; केवल संख्याएँ।")                \
    X(T_CASES, "Cases", "मामले")                                                                    \
    X(T_TREND, "Twelve months", "बारह महीने")                                                       \
    X(T_SOURCE, "Referral source", "रेफ़रल का स्रोत")                                                 \
    X(T_TRANSITIONS, "Changes in the month", "महीने में हुए बदलाव")                                    \
    X(T_TRANSITIONS_HINT, "What happened to cases in the month, read from their history.",         \
      "महीने में मामलों के साथ क्या हुआ, उनके इतिहास से।")                                                  \
    X(T_CAPTURED_MONTH, "Cases captured in the month", "महीने में दर्ज मामले")                          \
    X(T_ALL_CASES, "All cases", "सभी मामले")                                                        \
    X(T_GBVIMS, "GBVIMS incident type", "GBVIMS घटना का प्रकार")                                    \
    X(T_SERVICES_GIVEN, "Services given", "दी गई सेवाएँ")                                            \
    X(T_M_RECEIVED, "Received", "प्राप्त")                                                           \
    X(T_M_ACCEPTED, "Accepted", "स्वीकृत")                                                           \
    X(T_M_REFERRED, "Referred onward", "आगे भेजे गए")                                                 \
    X(T_M_CLOSED, "Closed", "बंद")                                                                  \
    X(T_M_REOPENED, "Reopened", "फिर से खोले गए")                                                    \
    X(T_M_DECLINED, "Declined", "अस्वीकृत")                                                          \
    X(T_M_OPEN_AT_END, "Open at the month's end", "महीने के अंत में खुले")                                \
    X(T_M_SERVICES, "Services given", "दी गई सेवाएँ")                                                \
    X(T_G_RAPE, "Rape", "बलात्कार")                                                                 \
    X(T_G_SEXUAL_ASSAULT, "Sexual assault", "यौन हमला")                                            \
    X(T_G_PHYSICAL_ASSAULT, "Physical assault", "शारीरिक हमला")                                    \
    X(T_G_FORCED_MARRIAGE, "Forced marriage", "जबरन विवाह")                                        \
    X(T_G_DENIAL, "Denial of resources, opportunities or services",                                \
      "संसाधनों, अवसरों या सेवाओं से वंचित करना")                                                         \
    X(T_G_PSYCHOLOGICAL, "Psychological or emotional abuse", "मनोवैज्ञानिक या भावनात्मक दुर्व्यवहार")

#define SK_DESK_MSG_ENUM(id, en, hi) id,
typedef enum sk_desk_msg { SK_DESK_MESSAGES(SK_DESK_MSG_ENUM) T__COUNT } sk_desk_msg;
#undef SK_DESK_MSG_ENUM

/* The message in lang (English for an unknown lang). */
const char *sk_t(int lang, sk_desk_msg id);
/* An enumeration value's label in lang ("domestic_violence" -> "Domestic violence" /
 * "घरेलू हिंसा"); the code's name when the catalog has no label; "?" for an unknown code. */
const char *sk_t_enum(int lang, sk_enum_id e, uint64_t code);

#endif

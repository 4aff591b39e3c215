/*
 * schema.c - the form, described by the library (sakhi.h "the form"): the case model's fields in
 * capture order with types, limits and when they are required, the codes of each enumeration,
 * and the label catalogs in English, Hindi, Urdu and Ladakhi that forms and messages use. The
 * field keys, names, types, enumerations and limits come from proto/sk_case.c, the code that
 * validates, so a form built from here asks for exactly what a save accepts. Static data only:
 * no handle, no allocation, thread-safe.
 *
 * A catalog row holds one key and its text in each language; NULL means "no translation yet",
 * and the English text is used. English is never NULL (test_schema checks every row).
 */
#include "sk_client.h"

#include "sk_case.h"
#include "sk_err.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

/* ---- fields ------------------------------------------------------------------------------- */

typedef struct field_row {
    uint32_t key;
    int required;              /* SAKHI_REQUIRED_* */
    const char *required_when; /* for SAKHI_REQUIRED_WHEN */
    int capture;
} field_row;

/* Capture form order first, then what the library, the server or staff set. */
static const field_row k_rows[] = {
    {SK_F_DISTRICT, SAKHI_REQUIRED_YES, NULL, 1},
    {SK_F_BLOCK, SAKHI_REQUIRED_YES, NULL, 1},
    {SK_F_VILLAGE, SAKHI_REQUIRED_YES, NULL, 1},
    {SK_F_TAKEN_AT, SAKHI_REQUIRED_YES, NULL, 1},
    {SK_F_NAME, SAKHI_REQUIRED_YES, NULL, 1},
    {SK_F_AGE, SAKHI_REQUIRED_WHEN, "age_band absent", 1},
    {SK_F_AGE_BAND, SAKHI_REQUIRED_WHEN, "age absent", 1},
    {SK_F_DOB, SAKHI_REQUIRED_NO, NULL, 1},
    {SK_F_MINOR, SAKHI_REQUIRED_NO, NULL, 1},
    {SK_F_PHONE, SAKHI_REQUIRED_NO, NULL, 1},
    {SK_F_SAFE_TO_CALL, SAKHI_REQUIRED_NO, NULL, 1},
    {SK_F_MARITAL, SAKHI_REQUIRED_NO, NULL, 1},
    {SK_F_CHILDREN, SAKHI_REQUIRED_NO, NULL, 1},
    {SK_F_CONCERNS, SAKHI_REQUIRED_YES, NULL, 1},
    {SK_F_CONCERN_OTHER, SAKHI_REQUIRED_WHEN, "concerns lists other", 1},
    {SK_F_URGENCY, SAKHI_REQUIRED_YES, NULL, 1},
    {SK_F_SOURCE, SAKHI_REQUIRED_YES, NULL, 1},
    {SK_F_CONSENT_SHARE, SAKHI_REQUIRED_YES, NULL, 1},
    {SK_F_CONSENT_CONTACT, SAKHI_REQUIRED_NO, NULL, 1},
    {SK_F_SERVICE_LEGAL, SAKHI_REQUIRED_NO, NULL, 1},
    {SK_F_SERVICE_MEDICAL, SAKHI_REQUIRED_NO, NULL, 1},
    {SK_F_SERVICE_POLICE, SAKHI_REQUIRED_NO, NULL, 1},
    {SK_F_SERVICE_COUNSELLING, SAKHI_REQUIRED_NO, NULL, 1},
    {SK_F_SERVICE_SHELTER, SAKHI_REQUIRED_NO, NULL, 1},
    {SK_F_NOTES, SAKHI_REQUIRED_NO, NULL, 1},
    /* set by the library at save */
    {SK_F_SCHEMA, SAKHI_REQUIRED_NO, NULL, 0},
    {SK_F_CREATED_AT, SAKHI_REQUIRED_NO, NULL, 0},
    {SK_F_CONSENT_BY, SAKHI_REQUIRED_WHEN, "consent_share=true", 0},
    {SK_F_CONSENT_AT, SAKHI_REQUIRED_WHEN, "consent_share=true", 0},
    {SK_F_STATUS, SAKHI_REQUIRED_YES, NULL, 0},
    /* set by the server and centre staff */
    {SK_F_DEVICE, SAKHI_REQUIRED_NO, NULL, 0},
    {SK_F_WORKER, SAKHI_REQUIRED_NO, NULL, 0},
    {SK_F_CASE_NO, SAKHI_REQUIRED_WHEN, "status in accepted,in_service,closed,referred", 0},
    {SK_F_STATUS_REASON, SAKHI_REQUIRED_WHEN, "status in closed,referred", 0},
    {SK_F_ASSIGNED, SAKHI_REQUIRED_NO, NULL, 0},
    {SK_F_OWNER, SAKHI_REQUIRED_NO, NULL, 0},
    {SK_F_DECLINE_REASON, SAKHI_REQUIRED_WHEN, "status in declined", 0},
    {SK_F_REFERRED_TO, SAKHI_REQUIRED_NO, NULL, 0},
    {SK_F_REFERRED_TO_DETAIL, SAKHI_REQUIRED_NO, NULL, 0},
    {SK_F_CONSENT_OVERRIDE, SAKHI_REQUIRED_NO, NULL, 0},
    {SK_F_CLOSE_REQUESTED_BY, SAKHI_REQUIRED_NO, NULL, 0},
    {SK_F_CLOSE_REQUEST_REASON, SAKHI_REQUIRED_WHEN, "close_requested_by present", 0},
    {SK_F_SHELTER_START, SAKHI_REQUIRED_WHEN, "shelter_days present", 0},
    {SK_F_SHELTER_DAYS, SAKHI_REQUIRED_WHEN, "shelter_start present", 0},
    {SK_F_REVIEW_RESOLVED, SAKHI_REQUIRED_NO, NULL, 0},
};
#define NROWS (sizeof(k_rows) / sizeof(k_rows[0]))

/* Enumeration names of the API, by sk_enum_id. */
static const char *const k_enum_names[SK_ENUM_COUNT] = {
    [SK_ENUM_DISTRICT] = "district",
    [SK_ENUM_TAKEN_AT] = "taken_at",
    [SK_ENUM_AGE_BAND] = "age_band",
    [SK_ENUM_MARITAL] = "marital",
    [SK_ENUM_CONCERN] = "concern",
    [SK_ENUM_URGENCY] = "urgency",
    [SK_ENUM_SERVICE] = "service",
    [SK_ENUM_SERVICE_STATUS] = "service_status",
    [SK_ENUM_SOURCE] = "source",
    [SK_ENUM_STATUS] = "status",
    [SK_ENUM_DECLINE_REASON] = "decline_reason",
    [SK_ENUM_DESTINATION] = "destination",
    [SK_ENUM_TASK_STATE] = "task_state",
    [SK_ENUM_TASK_KIND] = "task_kind",
};

static int enum_id(const char *name)
{
    for (int e = 0; name && e < SK_ENUM_COUNT; e++)
        if (strcmp(k_enum_names[e], name) == 0)
            return e;
    return -1;
}

static int fill(sakhi_field_info *out, const field_row *row)
{
    const sk_field_info *fi = sk_case_field_info(row->key);
    if (!fi)
        return SAKHI_ENOTFOUND;
    out->key = row->key;
    out->name = fi->name;
    switch (fi->type) {
    case SK_FT_UINT: out->type = SAKHI_TYPE_UINT; break;
    case SK_FT_BOOL: out->type = SAKHI_TYPE_BOOL; break;
    case SK_FT_ENUM: out->type = SAKHI_TYPE_ENUM; break;
    case SK_FT_ENUM_ARRAY: out->type = SAKHI_TYPE_ENUM_LIST; break;
    case SK_FT_STR_ARRAY: out->type = SAKHI_TYPE_TEXT_LIST; break;
    case SK_FT_TIME: out->type = SAKHI_TYPE_TIME; break;
    default: out->type = row->key == SK_F_PHONE ? SAKHI_TYPE_PHONE : SAKHI_TYPE_TEXT; break;
    }
    out->enumeration = (fi->type == SK_FT_ENUM || fi->type == SK_FT_ENUM_ARRAY) &&
                               fi->enumeration >= 0 && fi->enumeration < SK_ENUM_COUNT
                           ? k_enum_names[fi->enumeration]
                           : NULL;
    out->required = row->required;
    out->required_when = row->required_when;
    out->identifying = fi->identifying != 0;
    out->capture = row->capture;
    out->min = out->max = 0;
    if (sk_case_field_limits(row->key, &out->min, &out->max))
        out->min = out->max = 0;
    return 0;
}

size_t sakhi_schema_field_count(void)
{
    return NROWS;
}

int sakhi_schema_field(sakhi_field_info *out, size_t i)
{
    if (!out || out->version < 1)
        return SAKHI_EINVAL;
    if (i >= NROWS)
        return SAKHI_ENOTFOUND;
    return fill(out, &k_rows[i]);
}

int sakhi_schema_field_by_name(sakhi_field_info *out, const char *name)
{
    if (!out || out->version < 1 || !name)
        return SAKHI_EINVAL;
    const sk_field_info *fi = sk_case_field_by_name(name);
    for (size_t i = 0; fi && i < NROWS; i++)
        if (k_rows[i].key == fi->key)
            return fill(out, &k_rows[i]);
    return SAKHI_ENOTFOUND;
}

/* The districts are the centre's data (sakhi_district_get), not the schema's: the "district"
 * enumeration has no values here. */
static size_t enum_count(int e)
{
    return e < 0 || e == SK_ENUM_DISTRICT ? 0 : sk_enum_max((sk_enum_id)e);
}

size_t sakhi_schema_enum_count(const char *enumeration)
{
    return enum_count(enum_id(enumeration));
}

int sakhi_schema_enum_value(unsigned int *code_out, const char **name_out, const char *enumeration,
                            size_t i)
{
    int e = enum_id(enumeration);
    if (e < 0)
        return enumeration ? SAKHI_ENOTFOUND : SAKHI_EINVAL;
    if (i >= enum_count(e))
        return SAKHI_ENOTFOUND;
    unsigned code = (unsigned)i + 1; /* codes are 1..max, none skipped */
    if (code_out)
        *code_out = code;
    if (name_out)
        *name_out = sk_enum_name((sk_enum_id)e, code);
    return 0;
}

/* ---- catalogs ----------------------------------------------------------------------------- */

enum { L_EN, L_HI, L_UR, L_LBJ, L_COUNT };

typedef struct label_row {
    const char *key;
    const char *text[L_COUNT]; /* en (never NULL), hi, ur, lbj */
} label_row;

/* Labels of fields and enumeration values ("ENUMERATION.VALUE"; the values of enumeration
 * "service" share the labels of the service fields, "service.legal_aid"). Ladakhi has the words checked so far; the rest falls
 * back to English until a Ladakhi speaker has reviewed them (docs/CLIENT-API.md). */
static const label_row k_labels[] = {
    /* fields */
    {"district", {"District", "ज़िला", "ضلع", NULL}},
    {"block", {"Block", "ब्लॉक", "بلاک", NULL}},
    {"village", {"Village", "गाँव", "گاؤں", "གྲོང་ཚོ།"}},
    {"taken_at", {"Where it was taken", "कहाँ दर्ज किया गया", "کہاں درج کیا گیا", NULL}},
    {"name", {"Name", "नाम", "نام", "མིང་།"}},
    {"age", {"Age in years", "उम्र (वर्ष)", "عمر (سال)", "ལོ།"}},
    {"age_band", {"Age band", "उम्र-वर्ग", "عمر کا گروپ", NULL}},
    {"minor", {"Under 18", "18 वर्ष से कम", "18 سال سے کم", NULL}},
    {"phone", {"Phone", "फ़ोन", "فون", "ཁ་པར།"}},
    {"safe_to_call", {"Safe to call", "फ़ोन करना सुरक्षित है", "فون کرنا محفوظ ہے", NULL}},
    {"marital_status", {"Marital status", "वैवाहिक स्थिति", "ازدواجی حیثیت", NULL}},
    {"children", {"Accompanying children", "साथ आए बच्चे", "ساتھ آئے بچے", NULL}},
    {"concerns", {"Concerns", "चिंताएँ", "مسائل", NULL}},
    {"concern_other",
     {"Other concern, in words", "अन्य चिंता (शब्दों में)", "دیگر مسئلہ (الفاظ میں)", NULL}},
    {"urgency", {"Urgency", "तात्कालिकता", "فوری نوعیت", NULL}},
    {"referral_source", {"Referred by", "किसने भेजा", "کس نے بھیجا", NULL}},
    {"consent_share",
     {"Consents to share with the centre", "केंद्र के साथ साझा करने की सहमति",
      "مرکز کے ساتھ شیئر کرنے کی رضامندی", NULL}},
    {"consent_contact",
     {"Consents to be contacted", "संपर्क करने की सहमति", "رابطے کی رضامندی", NULL}},
    {"consent_by", {"Consent recorded by", "सहमति किसने दर्ज की", "رضامندی کس نے درج کی", NULL}},
    {"consent_at", {"Consent recorded at", "सहमति का समय", "رضامندی کا وقت", NULL}},
    {"status", {"Status", "स्थिति", "حیثیت", NULL}},
    {"status_reason", {"Reason for the status", "स्थिति का कारण", "حیثیت کی وجہ", NULL}},
    {"notes", {"Notes", "टिप्पणी", "نوٹس", "ཟིན་ཐོ།"}},
    {"assigned_to", {"Assigned to", "किसे सौंपा गया", "کس کے سپرد", NULL}},
    {"service.legal_aid", {"Legal aid", "कानूनी सहायता", "قانونی امداد", NULL}},
    {"service.medical_assistance", {"Medical assistance", "चिकित्सा सहायता", "طبی امداد", NULL}},
    {"service.police_facilitation", {"Police facilitation", "पुलिस सहायता", "پولیس مدد", NULL}},
    {"service.counselling", {"Counselling", "परामर्श", "مشاورت", NULL}},
    {"service.shelter", {"Shelter", "आश्रय", "پناہ گاہ", NULL}},
    {"schema", {"Schema version", "स्कीमा संस्करण", "اسکیما ورژن", NULL}},
    {"created_at", {"Captured at", "दर्ज करने का समय", "درج کرنے کا وقت", NULL}},
    {"device", {"Device", "डिवाइस", "ڈیوائس", NULL}},
    {"worker", {"Worker", "कार्यकर्ता", "کارکن", NULL}},
    {"case_no", {"Case number", "केस नंबर", "کیس نمبر", NULL}},
    {"dob", {"Date of birth", "जन्म तिथि", "تاریخ پیدائش", NULL}},
    {"owner", {"Case owner", "केस की ज़िम्मेदार", "کیس کی ذمہ دار", NULL}},
    {"decline_reason", {"Reason for declining", "अस्वीकार करने का कारण", "انکار کی وجہ", NULL}},
    {"referred_to", {"Referred to", "किसे भेजा गया", "کسے بھیجا گیا", NULL}},
    {"referred_to_detail", {"Name of the place", "जगह का नाम", "جگہ کا نام", NULL}},
    {"consent_override",
     {"Why shared without consent", "बिना सहमति साझा करने का कारण", "بغیر رضامندی شیئر کرنے کی وجہ",
      NULL}},
    {"close_requested_by",
     {"Closure asked by", "बंद करने का अनुरोध किसने किया", "بند کرنے کی درخواست کس نے کی", NULL}},
    {"close_request_reason", {"Reason to close", "बंद करने का कारण", "بند کرنے کی وجہ", NULL}},
    {"shelter_start", {"Shelter from", "आश्रय कब से", "پناہ کب سے", NULL}},
    {"shelter_days", {"Days of shelter", "आश्रय के दिन", "پناہ کے دن", NULL}},
    {"review_resolved", {"Review resolved at", "समीक्षा का समाधान", "جائزہ حل ہوا", NULL}},
    /* what messages name besides fields */
    {"follow_up", {"Follow-up", "फ़ॉलो-अप", "فالو اپ", NULL}},
    {"case_note", {"Case note", "केस नोट", "کیس نوٹ", NULL}},
    {"record", {"Referral", "रेफ़रल", "ریفرل", NULL}},
    /* words a form needs around the fields */
    {"ui.required", {"required", "ज़रूरी", "لازمی", NULL}},
    {"ui.yes", {"yes", "हाँ", "ہاں", NULL}},
    {"ui.no", {"no", "नहीं", "نہیں", NULL}},
    /* enumeration values */
    {"taken_at.home_visit", {"Home visit", "घर का दौरा", "گھر کا دورہ", NULL}},
    {"taken_at.anganwadi_centre", {"Anganwadi centre", "आंगनवाड़ी केंद्र", "آنگن واڑی مرکز", NULL}},
    {"taken_at.health_centre", {"Health centre", "स्वास्थ्य केंद्र", "صحت مرکز", NULL}},
    {"taken_at.police_station", {"Police station", "पुलिस थाना", "پولیس اسٹیشن", NULL}},
    {"taken_at.phone", {"Phone", "फ़ोन", "فون", "ཁ་པར།"}},
    {"taken_at.osc", {"One Stop Centre", "वन स्टॉप सेंटर", "ون اسٹاپ سینٹر", NULL}},
    {"age_band.under_12", {"Under 12", "12 से कम", "12 سے کم", NULL}},
    {"age_band.12_17", {"12 to 17", "12 से 17", "12 سے 17", NULL}},
    {"age_band.18_29", {"18 to 29", "18 से 29", "18 سے 29", NULL}},
    {"age_band.30_44", {"30 to 44", "30 से 44", "30 سے 44", NULL}},
    {"age_band.45_59", {"45 to 59", "45 से 59", "45 سے 59", NULL}},
    {"age_band.60_plus", {"60 and over", "60 या अधिक", "60 یا زیادہ", NULL}},
    {"marital.unmarried", {"Unmarried", "अविवाहित", "غیر شادی شدہ", NULL}},
    {"marital.married", {"Married", "विवाहित", "شادی شدہ", NULL}},
    {"marital.separated", {"Separated", "अलग रह रही", "علیحدہ", NULL}},
    {"marital.divorced", {"Divorced", "तलाकशुदा", "طلاق یافتہ", NULL}},
    {"marital.widowed", {"Widowed", "विधवा", "بیوہ", NULL}},
    {"concern.domestic_violence", {"Domestic violence", "घरेलू हिंसा", "گھریلو تشدد", NULL}},
    {"concern.financial_abuse", {"Financial abuse", "आर्थिक शोषण", "مالی استحصال", NULL}},
    {"concern.cyber_bullying", {"Cyber bullying", "साइबर उत्पीड़न", "سائبر ہراسانی", NULL}},
    {"concern.abandonment", {"Abandonment", "परित्याग", "ترک کر دینا", NULL}},
    {"concern.drug_abuse", {"Drug abuse", "नशे से जुड़ा दुर्व्यवहार", "منشیات سے متعلق زیادتی", NULL}},
    {"concern.child_marriage", {"Child marriage", "बाल विवाह", "کم عمری کی شادی", NULL}},
    {"concern.sexual_offence_minor",
     {"Sexual offence against a minor (POCSO)", "नाबालिग के साथ यौन अपराध (POCSO)",
      "نابالغ کے ساتھ جنسی جرم (POCSO)", NULL}},
    {"concern.other", {"Other", "अन्य", "دیگر", NULL}},
    {"urgency.immediate_danger", {"Immediate danger", "तत्काल ख़तरा", "فوری خطرہ", NULL}},
    {"urgency.urgent", {"Urgent", "ज़रूरी", "ضروری", NULL}},
    {"urgency.routine", {"Routine", "सामान्य", "معمول", NULL}},
    {"service_status.needed", {"Needed", "ज़रूरत है", "ضرورت ہے", NULL}},
    {"service_status.in_progress", {"In progress", "जारी है", "جاری ہے", NULL}},
    {"service_status.given", {"Given", "दी गई", "دی گئی", NULL}},
    {"service_status.declined", {"Declined", "मना किया", "انکار کیا", NULL}},
    {"service_status.not_needed", {"Not needed", "ज़रूरत नहीं", "ضرورت نہیں", NULL}},
    {"source.self", {"Self (walk-in)", "स्वयं", "خود", NULL}},
    {"source.helpline_181", {"Helpline 181", "हेल्पलाइन 181", "ہیلپ لائن 181", NULL}},
    {"source.police", {"Police", "पुलिस", "پولیس", NULL}},
    {"source.hospital", {"Hospital", "अस्पताल", "ہسپتال", NULL}},
    {"source.court", {"Court", "अदालत", "عدالت", NULL}},
    {"source.government_department",
     {"Government department", "सरकारी विभाग", "سرکاری محکمہ", NULL}},
    {"source.ngo", {"NGO", "गैर-सरकारी संस्था", "غیر سرکاری تنظیم", NULL}},
    {"source.family", {"Family", "परिवार", "خاندان", NULL}},
    {"source.community", {"Community", "समुदाय", "برادری", NULL}},
    {"source.frontline_worker", {"Frontline worker", "फ्रंटलाइन कार्यकर्ता", "فرنٹ لائن کارکن", NULL}},
    {"status.new", {"New", "नया", "نیا", NULL}},
    {"status.received", {"Received", "प्राप्त", "موصول", NULL}},
    {"status.accepted", {"Accepted", "स्वीकृत", "منظور", NULL}},
    {"status.in_service", {"In service", "सेवा में", "خدمت میں", NULL}},
    {"status.closed", {"Closed", "बंद", "بند", NULL}},
    {"status.referred", {"Referred on", "आगे भेजा गया", "آگے بھیجا گیا", NULL}},
    {"status.declined", {"Declined", "अस्वीकृत", "مسترد", NULL}},
    {"decline_reason.duplicate", {"Duplicate", "दोहराव", "دہرا", NULL}},
    {"decline_reason.outside_district",
     {"Outside the district", "ज़िले के बाहर", "ضلع سے باہر", NULL}},
    {"decline_reason.not_osc_matter",
     {"Not a matter for the centre", "केंद्र का मामला नहीं", "مرکز کا معاملہ نہیں", NULL}},
    {"destination.police_station", {"Police station", "पुलिस थाना", "پولیس اسٹیشن", NULL}},
    {"destination.hospital", {"Hospital", "अस्पताल", "ہسپتال", NULL}},
    {"destination.court", {"Court", "अदालत", "عدالت", NULL}},
    {"destination.protection_officer", {"Protection officer", "संरक्षण अधिकारी", "تحفظ افسر", NULL}},
    {"destination.legal_services_authority",
     {"Legal services authority", "विधिक सेवा प्राधिकरण", "قانونی خدمات اتھارٹی", NULL}},
    {"destination.shelter_home", {"Shelter home", "आश्रय गृह", "پناہ گاہ", NULL}},
    {"destination.ngo", {"NGO", "गैर-सरकारी संस्था", "غیر سرکاری تنظیم", NULL}},
    {"destination.other_osc",
     {"Another One Stop Centre", "दूसरा वन स्टॉप सेंटर", "دوسرا ون اسٹاپ سینٹر", NULL}},
    {"task_state.open", {"Open", "खुला", "کھلا", NULL}},
    {"task_state.done", {"Done", "पूरा", "مکمل", NULL}},
    {"task_state.cancelled", {"Cancelled", "रद्द", "منسوخ", NULL}},
    {"task_kind.manual", {"Task", "काम", "کام", NULL}},
    {"task_kind.urgent_waiting",
     {"Urgent referral waiting", "ज़रूरी रेफ़रल प्रतीक्षा में", "فوری ریفرل انتظار میں", NULL}},
    {"task_kind.referral_visit",
     {"Visit after referral", "रेफ़रल के बाद भेंट", "ریفرل کے بعد ملاقات", NULL}},
    {"task_kind.shelter_ending",
     {"Shelter ending", "आश्रय समाप्त हो रहा है", "پناہ ختم ہو رہی ہے", NULL}},
};
#define NLABELS (sizeof(k_labels) / sizeof(k_labels[0]))

/* Validation rules, a row each: the English rule with %1, %2 for a number or a name (also the
 * pattern a message is matched against), then its translations (the same placeholders). Matched
 * in order; the first match wins. */
static const char *const k_rules[][L_COUNT] = {
    {"is required", "भरना ज़रूरी है", "لازمی ہے", NULL},
    {"must be a string", "पाठ होना चाहिए", "متن ہونا چاہیے", NULL},
    {"must be an unsigned integer", "पूर्ण संख्या होनी चाहिए", "مکمل عدد ہونا چاہیے", NULL},
    {"must be an unsigned integer code", "एक कोड होना चाहिए", "ایک کوڈ ہونا چاہیے", NULL},
    {"must be true or false", "हाँ या नहीं होना चाहिए", "ہاں یا نہیں ہونا چاہیے", NULL},
    {"unknown code %1", "अज्ञात कोड %1", "نامعلوم کوڈ %1", NULL},
    {"must be between %1 and %2", "%1 और %2 के बीच होना चाहिए", "%1 اور %2 کے درمیان ہونا چاہیے",
     NULL},
    {"must not be empty", "खाली नहीं हो सकता", "خالی نہیں ہو سکتا", NULL},
    {"must not be blank", "खाली नहीं हो सकता", "خالی نہیں ہو سکتا", NULL},
    {"longer than %1 characters", "%1 अक्षरों से लंबा है", "%1 حروف سے لمبا ہے", NULL},
    {"longer than %1 bytes", "%1 बाइट से लंबा है", "%1 بائٹ سے لمبا ہے", NULL},
    {"must be valid UTF-8", "सही UTF-8 पाठ होना चाहिए", "درست UTF-8 متن ہونا چاہیے", NULL},
    {"age or age_band is required", "उम्र या उम्र-वर्ग में से एक भरना ज़रूरी है",
     "عمر یا عمر کا گروپ لازمی ہے", NULL},
    {"does not agree with age", "उम्र से मेल नहीं खाता", "عمر سے مطابقت نہیں رکھتا", NULL},
    {"does not agree with age_band", "उम्र-वर्ग से मेल नहीं खाता", "عمر کے گروپ سے مطابقت نہیں رکھتا",
     NULL},
    {"not a phone number (10 digits, or with 0, +91 or another country code in front)",
     "फ़ोन नंबर नहीं है (10 अंक, या आगे 0, +91 या किसी दूसरे देश का कोड)",
     "فون نمبر نہیں ہے (10 ہندسے، یا آگے 0، +91 یا کسی اور ملک کا کوڈ)", NULL},
    {"must list 1 to %1 concerns", "1 से %1 चिंताएँ चुनें", "1 سے %1 مسائل چنیں", NULL},
    {"code %1 listed twice", "कोड %1 दो बार है", "کوڈ %1 دو بار ہے", NULL},
    {"is required when concerns lists other", "चिंताओं में 'अन्य' हो तो भरना ज़रूरी है",
     "مسائل میں 'دیگر' ہو تو لازمی ہے", NULL},
    {"only allowed when concerns lists other", "केवल तब भरें जब चिंताओं में 'अन्य' हो",
     "صرف تب، جب مسائل میں 'دیگر' ہو", NULL},
    {"must be true when concerns lists sexual_offence_minor", "चिंताओं में POCSO हो तो 'हाँ' होना चाहिए",
     "مسائل میں POCSO ہو تو 'ہاں' ہونا چاہیے", NULL},
    {"is required when consent_share is true", "साझा करने की सहमति हो तो भरना ज़रूरी है",
     "شیئر کرنے کی رضامندی ہو تو لازمی ہے", NULL},
    {"must be \"withheld\" without consent to share",
     "साझा करने की सहमति के बिना \"withheld\" होना चाहिए",
     "شیئر کرنے کی رضامندی کے بغیر \"withheld\" ہونا چاہیے", NULL},
    {"not allowed without consent to share", "साझा करने की सहमति के बिना नहीं भरा जा सकता",
     "شیئر کرنے کی رضامندی کے بغیر اجازت نہیں", NULL},
    {"is required once the case is accepted", "मामला स्वीकार होने के बाद ज़रूरी है",
     "کیس منظور ہونے کے بعد لازمی ہے", NULL},
    {"is required when status is closed or referred", "स्थिति बंद या आगे भेजा गया हो तो ज़रूरी है",
     "حیثیت بند یا آگے بھیجا گیا ہو تو لازمی ہے", NULL},
    {"only centre staff may set it", "केवल केंद्र के कर्मचारी इसे भर सकते हैं",
     "صرف مرکز کا عملہ اسے بھر سکتا ہے", NULL},
    {"only centre staff may change the status", "स्थिति केवल केंद्र के कर्मचारी बदल सकते हैं",
     "حیثیت صرف مرکز کا عملہ بدل سکتا ہے", NULL},
    {"a field worker creates referrals as new", "फ़ील्ड कार्यकर्ता रेफ़रल केवल 'नया' के रूप में बनाती है",
     "فیلڈ کارکن ریفرل صرف 'نیا' کے طور پر بناتی ہے", NULL},
    {"a field worker may only mark a service as needed",
     "फ़ील्ड कार्यकर्ता सेवा को केवल 'ज़रूरत है' चिह्नित कर सकती है",
     "فیلڈ کارکن خدمت کو صرف 'ضرورت ہے' نشان زد کر سکتی ہے", NULL},
    {"only centre staff may add case notes", "केस नोट केवल केंद्र के कर्मचारी जोड़ सकते हैं",
     "کیس نوٹ صرف مرکز کا عملہ شامل کر سکتا ہے", NULL},
    {"record is outside your district", "यह रेफ़रल आपके ज़िले से बाहर का है",
     "یہ ریفرل آپ کے ضلع سے باہر کا ہے", NULL},
    {"not your referral", "यह आपका रेफ़रल नहीं है", "یہ آپ کا ریفرل نہیں ہے", NULL},
    {"text must not be empty", "पाठ खाली नहीं हो सकता", "متن خالی نہیں ہو سکتا", NULL},
    {"text longer than %1 characters", "पाठ %1 अक्षरों से लंबा है", "متن %1 حروف سے لمبا ہے", NULL},
    {"cannot go from %1 to %2", "%1 से %2 नहीं हो सकता", "%1 سے %2 نہیں ہو سکتا", NULL},
};
#define NRULES (sizeof(k_rules) / sizeof(k_rules[0]))

static int lang_index(const char *lang)
{
    static const char *const codes[L_COUNT] = {"en", "hi", "ur", "lbj"};
    if (!lang)
        return L_EN;
    size_t n = strcspn(lang, "-_");
    for (int i = 0; i < L_COUNT; i++)
        if (strlen(codes[i]) == n && strncasecmp(lang, codes[i], n) == 0)
            return i;
    return L_EN;
}

static const char *pick(const char *const text[L_COUNT], int li)
{
    return text[li] && text[li][0] ? text[li] : text[L_EN];
}

const char *sakhi_label(const char *lang, const char *key)
{
    if (!key || !key[0])
        return "?";
    int li = lang_index(lang);
    for (size_t i = 0; i < NLABELS; i++)
        if (strcmp(k_labels[i].key, key) == 0)
            return pick(k_labels[i].text, li);
    return key;
}

/* Does rule text s match pattern p (with %1, %2 standing for [A-Za-z0-9_]+)? The captured
 * arguments go to args (up to 2, as pointers and lengths into s). */
static int rule_match(const char *p, const char *s, const char *args[2], size_t lens[2])
{
    while (*p) {
        if (p[0] == '%' && (p[1] == '1' || p[1] == '2')) {
            int a = p[1] - '1';
            size_t n = 0;
            while ((s[n] >= '0' && s[n] <= '9') || (s[n] >= 'a' && s[n] <= 'z') ||
                   (s[n] >= 'A' && s[n] <= 'Z') || s[n] == '_' || s[n] == '-')
                n++;
            if (n == 0)
                return 0;
            args[a] = s;
            lens[a] = n;
            s += n;
            p += 2;
        } else if (*p++ != *s++) {
            return 0;
        }
    }
    return *s == '\0';
}

/* Append s[0..n) to out (cap with NUL), cutting at a UTF-8 character boundary. */
static void put(char *out, size_t cap, size_t *len, const char *s, size_t n)
{
    size_t room = cap - 1 - *len;
    int cut = n > room;
    if (cut) {
        n = room;
        while (n > 0 && ((unsigned char)s[n] & 0xc0) == 0x80)
            n--;
    }
    memcpy(out + *len, s, n);
    out[*len + n] = '\0';
    /* once cut, nothing more is appended: the text ends where it was cut */
    *len = cut ? cap - 1 : *len + n;
}

int sakhi_message(char *out, size_t cap, const char *lang, const char *msg)
{
    if (!out || !cap || !msg)
        return SAKHI_EINVAL;
    size_t len = 0;
    out[0] = '\0';
    int li = lang_index(lang);
    const char *colon = strstr(msg, ": ");
    char field[64];
    size_t fl = colon ? (size_t)(colon - msg) : 0;
    if (!colon || fl == 0 || fl >= sizeof(field) || strchr(msg, '\n')) {
        put(out, cap, &len, msg, strlen(msg));
        return 0;
    }
    memcpy(field, msg, fl);
    field[fl] = '\0';
    const char *rule = colon + 2;
    const char *label = sakhi_label(lang, field);
    put(out, cap, &len, label, strlen(label));
    put(out, cap, &len, ": ", 2);
    for (size_t i = 0; i < NRULES; i++) {
        const char *args[2] = {NULL, NULL};
        size_t lens[2] = {0, 0};
        if (!rule_match(k_rules[i][L_EN], rule, args, lens))
            continue;
        const char *t = pick(k_rules[i], li);
        while (*t) {
            if (t[0] == '%' && (t[1] == '1' || t[1] == '2') && args[t[1] - '1']) {
                put(out, cap, &len, args[t[1] - '1'], lens[t[1] - '1']);
                t += 2;
            } else {
                const char *next = strchr(t + 1, '%');
                size_t n = next ? (size_t)(next - t) : strlen(t);
                put(out, cap, &len, t, n);
                t += n;
            }
        }
        return 0;
    }
    put(out, cap, &len, rule, strlen(rule)); /* a rule the catalog does not know: English */
    return 0;
}

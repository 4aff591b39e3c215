/*
 * sk_desk_i18n.c - the desk's string catalog (see sk_desk_i18n.h). Static data only.
 */
#include "sk_desk_i18n.h"

#include <stddef.h>

#define SK_DESK_MSG_ROW(id, en, hi) {en, hi},
static const char *const k_msgs[T__COUNT][SK_LANG_COUNT] = {SK_DESK_MESSAGES(SK_DESK_MSG_ROW)};
#undef SK_DESK_MSG_ROW

const char *sk_t(int lang, sk_desk_msg id)
{
    if ((unsigned)id >= T__COUNT)
        return "?";
    return k_msgs[id][lang == SK_LANG_HI ? SK_LANG_HI : SK_LANG_EN];
}

typedef struct enum_label {
    sk_enum_id e;
    uint32_t code;
    const char *en, *hi;
} enum_label;

static const enum_label k_enum[] = {
    {SK_ENUM_STATUS, SK_STATUS_NEW, "New", "नया"},
    {SK_ENUM_STATUS, SK_STATUS_RECEIVED, "Received", "प्राप्त"},
    {SK_ENUM_STATUS, SK_STATUS_ACCEPTED, "Accepted", "स्वीकृत"},
    {SK_ENUM_STATUS, SK_STATUS_IN_SERVICE, "In service", "सेवा में"},
    {SK_ENUM_STATUS, SK_STATUS_CLOSED, "Closed", "बंद"},
    {SK_ENUM_STATUS, SK_STATUS_REFERRED, "Referred onward", "आगे भेजा गया"},
    {SK_ENUM_STATUS, SK_STATUS_DECLINED, "Declined", "अस्वीकृत"},
    {SK_ENUM_DECLINE_REASON, SK_DECLINE_DUPLICATE, "Duplicate", "दोहराया गया"},
    {SK_ENUM_DECLINE_REASON, SK_DECLINE_OUTSIDE_DISTRICT, "Outside the district", "ज़िले से बाहर"},
    {SK_ENUM_DECLINE_REASON, SK_DECLINE_NOT_OSC, "Not an OSC matter", "वन स्टॉप सेंटर का मामला नहीं"},
    {SK_ENUM_DESTINATION, SK_DEST_POLICE_STATION, "Police station", "पुलिस थाना"},
    {SK_ENUM_DESTINATION, SK_DEST_HOSPITAL, "Hospital", "अस्पताल"},
    {SK_ENUM_DESTINATION, SK_DEST_COURT, "Court", "न्यायालय"},
    {SK_ENUM_DESTINATION, SK_DEST_PROTECTION_OFFICER, "Protection officer", "संरक्षण अधिकारी"},
    {SK_ENUM_DESTINATION, SK_DEST_LEGAL_SERVICES, "Legal services authority", "विधिक सेवा प्राधिकरण"},
    {SK_ENUM_DESTINATION, SK_DEST_SHELTER_HOME, "Shelter home", "आश्रय गृह"},
    {SK_ENUM_DESTINATION, SK_DEST_NGO, "NGO", "स्वयंसेवी संस्था"},
    {SK_ENUM_DESTINATION, SK_DEST_OTHER_OSC, "Another One Stop Centre", "दूसरा वन स्टॉप सेंटर"},
    {SK_ENUM_TASK_STATE, SK_TASK_OPEN, "open", "खुला"},
    {SK_ENUM_TASK_STATE, SK_TASK_DONE, "done", "पूरा"},
    {SK_ENUM_TASK_STATE, SK_TASK_CANCELLED, "cancelled", "रद्द"},
    {SK_ENUM_URGENCY, SK_URGENCY_IMMEDIATE, "Immediate", "तुरंत"},
    {SK_ENUM_URGENCY, SK_URGENCY_URGENT, "Urgent", "तत्काल"},
    {SK_ENUM_URGENCY, SK_URGENCY_ROUTINE, "Routine", "सामान्य"},
    {SK_ENUM_SERVICE, SK_SERVICE_LEGAL, "Legal aid", "कानूनी सहायता"},
    {SK_ENUM_SERVICE, SK_SERVICE_MEDICAL, "Medical help", "चिकित्सा सहायता"},
    {SK_ENUM_SERVICE, SK_SERVICE_POLICE, "Police facilitation", "पुलिस सहायता"},
    {SK_ENUM_SERVICE, SK_SERVICE_COUNSELLING, "Counselling", "परामर्श"},
    {SK_ENUM_SERVICE, SK_SERVICE_SHELTER, "Shelter", "आश्रय"},
    {SK_ENUM_SERVICE_STATUS, SK_SVC_NEEDED, "needed", "आवश्यक"},
    {SK_ENUM_SERVICE_STATUS, SK_SVC_IN_PROGRESS, "in progress", "जारी"},
    {SK_ENUM_SERVICE_STATUS, SK_SVC_GIVEN, "given", "दी गई"},
    {SK_ENUM_SERVICE_STATUS, SK_SVC_DECLINED, "declined", "मना किया"},
    {SK_ENUM_SERVICE_STATUS, SK_SVC_NOT_NEEDED, "not needed", "आवश्यक नहीं"},
    {SK_ENUM_CONCERN, SK_CONCERN_DOMESTIC_VIOLENCE, "Domestic violence", "घरेलू हिंसा"},
    {SK_ENUM_CONCERN, SK_CONCERN_FINANCIAL_ABUSE, "Financial abuse", "आर्थिक शोषण"},
    {SK_ENUM_CONCERN, SK_CONCERN_CYBER_BULLYING, "Cyber bullying", "साइबर उत्पीड़न"},
    {SK_ENUM_CONCERN, SK_CONCERN_ABANDONMENT, "Abandonment", "परित्याग"},
    {SK_ENUM_CONCERN, SK_CONCERN_DRUG_ABUSE, "Drug abuse", "नशा"},
    {SK_ENUM_CONCERN, SK_CONCERN_CHILD_MARRIAGE, "Child marriage", "बाल विवाह"},
    {SK_ENUM_CONCERN, SK_CONCERN_POCSO, "Sexual offence against a child (POCSO)",
     "बच्चे के विरुद्ध यौन अपराध (पॉक्सो)"},
    {SK_ENUM_CONCERN, SK_CONCERN_OTHER, "Other", "अन्य"},
};

const char *sk_t_enum(int lang, sk_enum_id e, uint64_t code)
{
    for (size_t i = 0; i < sizeof(k_enum) / sizeof(k_enum[0]); i++)
        if (k_enum[i].e == e && k_enum[i].code == code)
            return lang == SK_LANG_HI ? k_enum[i].hi : k_enum[i].en;
    const char *n = sk_enum_name(e, code);
    return n ? n : "?";
}

#!/usr/bin/env python3
"""Generate varied referrals in the format of tests/data/sample-referrals.json, from a seed.

    scripts/gen-referrals.py --seed N --count M [--out FILE] [--minors PERCENT]

The sample file repeats ten sentences and a few dozen names, which flatters any compressor.
These referrals do not: names are drawn from Ladakhi (Buddhist and Muslim), Hindi and
Tibetan-script given names and family names, villages from Leh and Kargil districts with their
hamlets and wards, and the notes and follow-ups are composed clause by clause, in English,
Hindi (Devanagari) or a mix, with numbers, days, distances and people that change from record
to record. The same seed gives the same file on any Python 3 (random.Random is stable for an
integer seed); different seeds give different referrals, so that a compression dictionary can
be trained on one seed and measured on another.

Ids are UUIDv7-like (48-bit milliseconds, then random bits), times within 2026. Ages are 18 to
75 unless --minors gives the share of referrals about girls under 18 (then marked minor).
"""
import argparse
import datetime
import json
import random
import sys

GIVEN = (
    "Dolma Yangchen Padma Tsering Dechen Sonam Rigzin Stanzin Diskit Chorol Lhamo Angmo Skarma "
    "Spalzes Kunzes Tashi Deskit Yangdol Chhoskit Tsewang Padma Norzom Lobzang Rinchen Thinles "
    "Dolkar Kesang Tundup Nilza Zangmo Phuntsog Tsetan Sonam Yangzes Konchok Chondol "
    "Fatima Zainab Kaneez Ruqaya Sakina Kulsum Nasreen Shabnam Ruksana Zahra Batool Masooma "
    "Haleema Shamim Rehana Kubra Naseema Sughra Zehra Bilqees Amina Hajira Shaheena "
    "Sunita Meena Pooja Anita Kavita Rekha Savitri Geeta Lalita Poonam Radha Suman Neelam "
    "Kamla Santosh Usha Pushpa Manju Asha Bimla Seema Rajni"
).split()
FAMILY = (
    "Angmo Dolker Bano Devi Lhamo Wangmo Palmo Chhoton Lamo Dolma Zangmo Spalzes Chorol "
    "Kumari Begum Khatoon Bi Sharma Thakur Negi Yangdol Norbu Gyatso Tundup Namgyal Dorjay "
    "Ali Hussain Abbas Mir Shah Bhat Rigzin Targais Motup Paldan Stobdan Nurboo"
).split()
TIB_GIVEN = ["ཚེ་རིང་", "སྒྲོལ་མ་", "པདྨ་", "བདེ་ཆེན་", "ལྷ་མོ་", "དབྱངས་ཅན་", "བསོད་ནམས་", "རིག་འཛིན་",
             "ཆོས་སྒྲོན་", "དཀོན་མཆོག་", "ནོར་འཛོམས་", "བཀྲ་ཤིས་"]
TIB_FAMILY = ["དབང་མོ།", "དཔལ་མོ།", "ལྷ་མོ།", "སྒྲོལ་དཀར།", "བཟང་མོ།", "ཆོས་སྐྱིད།", "དབྱངས་སྒྲོན།"]
HI_GIVEN = ["सुनीता", "मीना", "पूजा", "अनीता", "कविता", "रेखा", "सावित्री", "गीता", "ललिता", "पूनम",
            "राधा", "सुमन", "फ़ातिमा", "ज़ैनब", "शबनम", "नसरीन", "डोल्मा", "पद्मा"]
HI_FAMILY = ["देवी", "कुमारी", "बानो", "बेगम", "शर्मा", "ठाकुर", "नेगी", "अंगमो", "ल्हामो", "खातून"]

LEH = {
    "Nubra": "Diskit Hunder Sumur Turtuk Panamik Tegar Tirit Charasa Kyagar Bogdang Skuru "
             "Chalunka Thoise Khalsar Partapur Udmaroo Tyakshi Yarma Murgi Waris",
    "Khaltsi": "Khaltsi Saspol Alchi Likir Basgo Nimmu Lamayuru Wanla Temisgam Domkhar "
               "Hemis-Shukpachan Tingmosgang Achinathang Skurbuchan Dha Hanu Sumda Ursi",
    "Nyoma": "Nyoma Hanle Chushul Mahe Loma Korzok Puga Sumdo Kargam Rongo Tsaga Sato "
             "Merak Man Spangmik Phobrang Tangtse",
    "Leh": "Shey Thiksey Stok Choglamsar Phyang Saboo Spituk Gangles Sankar Skara Changspa "
           "Nang Matho Igoo Taru Phey Sabu Ayu Tukcha Stakmo",
    "Durbuk": "Durbuk Tangtse Shachukul Muglib Lukung Chakmaching Sakti Tharuk Zingral",
    "Kharu": "Kharu Upshi Gya Rumtse Martselang Chemrey Hemis Karu Shang Sasoma Miru Lato",
}
KARGIL = {
    "Kargil": "Kargil Baroo Poyen Minji Hardass Karkit Trespone Chanigund Akchamal Lankerchey "
              "Shilikchey Goma Kargil Khumbathang Titchik Hunderman",
    "Drass": "Drass Bhimbat Mushkoh Pandrass Minamarg Gangri Goshan Thasgam Chokiyal Murad Bagh",
    "Sankoo": "Sankoo Panikhar Taisuru Parkachik Thangdumbur Namsuru Lankarchay Kartsey Umba",
    "Shargole": "Shargole Mulbekh Wakha Gongma Bodh-Kharbu Lotsum Hagnis Chiktan Saliskote "
                "Shakar Kanji Fokar",
    "Zanskar": "Padum Zangla Karsha Stongde Pibiting Ichar Anmu Pishu Testa Sani Tungri Cha "
               "Phey Rangdum Abran Yulchung",
}
HAMLET = ["", "", "", "", " Yokma", " Gongma", " Ward {n}", " Phu", " Lower", " Upper",
          " Colony", " Chu", " Ward {n}", " Sharnos", " Thang"]

TAKEN = ["anganwadi_centre", "police_station", "home_visit", "health_centre", "phone"]
CONCERNS = ["cyber_bullying", "abandonment", "financial_abuse", "domestic_violence", "drug_abuse"]
SERVICES = ["shelter", "counselling", "medical_assistance", "legal_aid", "police_facilitation"]
SOURCES = ["frontline_worker", "government_department", "police", "family", "ngo", "hospital",
           "helpline_181", "court", "self", "community"]
MARITAL = ["unmarried", "widowed", "married", "separated", "divorced"]
STATUS = ["new"] * 12 + ["closed", "closed", "in_service", "in_service", "accepted", "received"]

# ---- free text, composed clause by clause ------------------------------------------------------

EN_WHO = ["her husband", "the husband", "her mother-in-law", "her brother-in-law", "her father",
          "an uncle", "her elder brother", "a neighbour", "her former husband", "the in-laws",
          "her son", "a man from the next village", "the contractor she works for", "his family",
          "her sister-in-law", "someone on a phone group"]
EN_DID = ["beats her when he drinks", "took her earnings from the {job}",
          "locked her out in the cold for {n} nights", "threatens to take the children to {place}",
          "wants her to sign over the {asset}", "posted photos of her without consent",
          "keeps her from visiting the {facility}", "broke her phone and her glasses",
          "refuses to pay for the children's school fees", "pushed her down the stairs",
          "forces her to work in the {job} without pay", "says she is not fit to raise the girls",
          "sends messages at night from different numbers", "burnt her documents",
          "took her ration card and Aadhaar", "left her with a debt of Rs {amt}"]
EN_SHE = ["She walked {n} km to the {facility}", "She came with her {kin}",
          "She called the 181 helpline from a shop in {place}",
          "The ASHA worker brought her to the {facility}",
          "She has {k} children, the youngest {m} months old",
          "Her {kin} in {place} will keep her for a few days",
          "She cannot read; the form was read out to her in {lang}",
          "She has bruises on the {part} and a cut above the eye",
          "She was seen at the {facility} on {day}", "She wants the case heard in {place}",
          "She is {m} months pregnant", "She earns about Rs {amt} a month from {job}",
          "She asked that nobody call the house", "She only has her brother's phone",
          "She was treated for a fracture of the {part}"]
EN_ASK = ["Asks for shelter until the road to {place} opens", "Wants counselling for herself and "
          "her daughter", "Needs legal aid to get maintenance", "Wants a protection order",
          "Asks for help getting the children back", "Needs a medical check and a copy of the MLC",
          "Wants to go back to her parents in {place}", "Safe to call only before {h} am",
          "Safe to call after {h} pm on her sister's number", "Do not visit the house; meet at the "
          "{facility}", "Needs bus fare to {place}", "Wants the police to return her documents"]
JOBS = ["weaving cooperative", "apricot orchard", "army canteen", "guest house", "road work",
        "pashmina unit", "dairy", "hotel laundry", "shop in the bazaar", "school kitchen",
        "sea-buckthorn unit", "barley fields"]
ASSETS = ["land", "house", "orchard", "shop", "pension", "gold", "cattle", "taxi permit"]
FACILITIES = ["PHC", "anganwadi centre", "district hospital", "police post", "block office",
              "sub-centre", "school", "gompa", "masjid committee", "panchayat ghar"]
KIN = ["mother", "sister", "aunt", "cousin", "daughter", "neighbour", "friend from the SHG"]
PARTS = ["arm", "wrist", "back", "shoulder", "face", "ribs", "knee", "neck"]
LANGS = ["Ladakhi", "Purgi", "Hindi", "Urdu", "Balti", "Shina", "Zangskari"]
DAYS = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday",
        "the day of the festival", "the last market day", "the day after Losar"]

HI_WHO = ["पति", "सास", "ससुर", "देवर", "जेठ", "पिता", "भाई", "पड़ोसी", "पूर्व पति", "ससुराल वाले",
          "बेटा", "ठेकेदार"]
HI_DID = ["शराब पीकर मारपीट करता है", "उसकी कमाई छीन लेता है", "{n} रातों से घर से बाहर निकाल दिया",
          "बच्चों को {place} ले जाने की धमकी देता है", "दहेज के लिए ताने देते हैं", "खाना नहीं देते",
          "ज़मीन अपने नाम करवाना चाहता है", "फ़ोन तोड़ दिया", "बिना अनुमति के फ़ोटो डाल दिए",
          "{amt} रुपये का कर्ज़ छोड़ गया", "अस्पताल जाने नहीं देता", "राशन कार्ड रख लिया"]
HI_SHE = ["वह {n} किलोमीटर पैदल चलकर आई", "आशा दीदी उसे {facility} लेकर आईं", "उसके {k} बच्चे हैं",
          "वह {m} महीने की गर्भवती है", "उसके हाथ और पीठ पर चोट के निशान हैं",
          "वह पढ़ नहीं सकती, फ़ॉर्म उसे पढ़कर सुनाया गया", "उसकी बहन {place} में रहती है",
          "उसने 181 पर दुकान से फ़ोन किया", "वह महीने में लगभग {amt} रुपये कमाती है"]
HI_ASK = ["अस्थायी आश्रय चाहिए", "परामर्श चाहती है", "कानूनी सहायता चाहिए", "मायके जाना चाहती है",
          "बच्चों के साथ सुरक्षित जगह चाहिए", "सुबह {h} बजे से पहले ही फ़ोन करें", "घर पर न आएँ",
          "पुलिस से दस्तावेज़ वापस दिलवाएँ", "मेडिकल जाँच करवानी है"]
HI_FACILITY = ["पीएचसी", "आंगनवाड़ी केंद्र", "ज़िला अस्पताल", "पुलिस चौकी", "ब्लॉक कार्यालय", "स्कूल"]

FU_EN = ["Called back on {day}; she is staying with her {kin} in {place}.",
         "Visited with the ASHA; {who} was not at home.",
         "Counsellor spoke to her for {n} minutes; next call on {day}.",
         "Police post in {place} informed; DIR to be filed.",
         "Shelter bed arranged at the OSC for {n} nights.",
         "Legal aid clinic on {day} at the {facility}; she agreed to come.",
         "No answer on the number given; will try after {h} pm.",
         "Medical done at the {facility}; report collected.",
         "She withdrew the complaint for now; keep in touch through the AWW."]
FU_HI = ["{day} को फिर फ़ोन किया; वह {place} में अपनी बहन के पास है।",
         "आशा के साथ घर गए; {who} घर पर नहीं था।",
         "परामर्शदाता ने {n} मिनट बात की।", "{place} की पुलिस चौकी को सूचना दी गई।",
         "ओएससी में {n} रात के लिए रहने की व्यवस्था की गई।", "नंबर पर कोई जवाब नहीं; शाम को फिर कोशिश करेंगे।"]


class Gen:
    def __init__(self, seed, minors):
        self.r = random.Random(seed)
        self.minors = minors
        self.places = [v for blocks in (LEH, KARGIL) for vs in blocks.values() for v in vs.split()]

    def fill(self, t, hindi=False):
        r = self.r
        out = t
        for key, fn in (
            ("{n}", lambda: str(r.randint(2, 40))),
            ("{k}", lambda: str(r.randint(1, 6))),
            ("{m}", lambda: str(r.randint(2, 9))),
            ("{h}", lambda: str(r.randint(7, 11))),
            ("{amt}", lambda: f"{r.randint(3, 250) * 100:,}"),
            ("{place}", lambda: r.choice(self.places)),
            ("{job}", lambda: r.choice(JOBS)),
            ("{asset}", lambda: r.choice(ASSETS)),
            ("{facility}", lambda: r.choice(HI_FACILITY if hindi else FACILITIES)),
            ("{kin}", lambda: r.choice(KIN)),
            ("{part}", lambda: r.choice(PARTS)),
            ("{lang}", lambda: r.choice(LANGS)),
            ("{day}", lambda: r.choice(DAYS)),
            ("{who}", lambda: r.choice(HI_WHO if hindi else EN_WHO)),
        ):
            while key in out:
                out = out.replace(key, fn(), 1)
        return out

    def note(self):
        r = self.r
        lang = r.random()
        parts = []
        if lang < 0.55:
            who = r.choice(EN_WHO)
            parts.append(self.fill(f"{who[0].upper()}{who[1:]} {r.choice(EN_DID)}."))
            for _ in range(r.randint(0, 2)):
                parts.append(self.fill(r.choice(EN_SHE) + "."))
            if r.random() < 0.8:
                parts.append(self.fill(r.choice(EN_ASK) + "."))
        elif lang < 0.9:
            parts.append(self.fill(f"{r.choice(HI_WHO)} {r.choice(HI_DID)}।", True))
            for _ in range(r.randint(0, 2)):
                parts.append(self.fill(r.choice(HI_SHE) + "।", True))
            if r.random() < 0.8:
                parts.append(self.fill(r.choice(HI_ASK) + "।", True))
        else:
            parts.append(self.fill(f"{r.choice(HI_WHO)} {r.choice(HI_DID)}।", True))
            parts.append(self.fill(r.choice(EN_SHE) + "."))
            parts.append(self.fill(r.choice(EN_ASK) + "."))
        return " ".join(parts)

    def name(self):
        r = self.r
        x = r.random()
        if x < 0.12:
            return "withheld"
        if x < 0.22:
            return r.choice(TIB_GIVEN) + r.choice(TIB_FAMILY)
        if x < 0.32:
            return r.choice(HI_GIVEN) + " " + r.choice(HI_FAMILY)
        if x < 0.45:
            return r.choice(GIVEN)
        return r.choice(GIVEN) + " " + r.choice(FAMILY)

    def uuid7(self, ms):
        r = self.r
        b = bytearray(ms.to_bytes(6, "big") + r.getrandbits(80).to_bytes(10, "big"))
        b[6] = (b[6] & 0x0F) | 0x70
        b[8] = (b[8] & 0x3F) | 0x80
        h = b.hex()
        return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"

    def referral(self, i):
        r = self.r
        start = int(datetime.datetime(2026, 1, 1, tzinfo=datetime.timezone.utc).timestamp())
        t = start + r.randint(0, 360 * 86400)
        t -= t % 60
        iso = lambda s: datetime.datetime.fromtimestamp(s, datetime.timezone.utc).strftime(
            "%Y-%m-%dT%H:%M:%SZ")
        district = "Leh" if r.random() < 0.55 else "Kargil"
        blocks = LEH if district == "Leh" else KARGIL
        block = r.choice(sorted(blocks))
        village = r.choice(blocks[block].split()) + r.choice(HAMLET).replace(
            "{n}", str(r.randint(1, 12)))
        minor = r.random() * 100 < self.minors
        age = r.randint(13, 17) if minor else r.randint(18, 75)
        concerns = r.sample(CONCERNS, r.choice([1, 1, 2, 2, 3]))
        if minor:
            concerns = [r.choice(["child_marriage", "sexual_offence_minor"])] + concerns[:1]
        phone = None
        if r.random() < 0.6:
            phone = f"+91 {r.choice('6789')}{r.randint(0, 9999):04d}{r.randint(0, 99999):05d}"
        worker = f"worker-{r.randint(1, 60):03d}"
        fus = []
        ft = t
        for _ in range(r.choice([0, 0, 1, 1, 2, 3])):
            ft += r.randint(3600, 20 * 86400)
            ft -= ft % 60
            text = self.fill(r.choice(FU_HI), True) if r.random() < 0.3 else self.fill(
                r.choice(FU_EN))
            fus.append({"id": self.uuid7(ft * 1000), "at": iso(ft),
                        "by": f"worker-{r.randint(1, 60):03d}", "text": text})
        return {
            "id": self.uuid7(t * 1000),
            "schema_version": 1,
            "created_at": iso(t),
            "device_id": f"device-{r.randint(1, 120):03d}",
            "worker_id": worker,
            "district": district,
            "block": block,
            "village": village,
            "taken_at": r.choice(TAKEN),
            "person": {
                "name": self.name(),
                "age": age,
                "minor": minor,
                "phone": phone,
                "safe_to_call": r.random() < 0.6,
                "marital_status": "unmarried" if minor else r.choice(MARITAL),
                "children": 0 if minor else r.randint(0, 6),
            },
            "concerns": concerns,
            "urgency": r.choice(["routine", "routine", "urgent", "immediate_danger"]),
            "services_needed": r.sample(SERVICES, r.randint(0, 3)),
            "referral_source": r.choice(SOURCES),
            "consent": {"share_with_centre": True, "contact": r.random() < 0.5},
            "status": r.choice(STATUS),
            "notes": self.note(),
            "follow_ups": fus,
        }


def main(argv):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--seed", type=int, required=True)
    ap.add_argument("--count", type=int, required=True)
    ap.add_argument("--minors", type=float, default=0.0, help="percent of referrals about minors")
    ap.add_argument("--out", default="-")
    a = ap.parse_args(argv)
    if a.count < 0 or not 0 <= a.minors <= 100:
        ap.error("--count must be >= 0 and --minors within 0..100")
    g = Gen(a.seed, a.minors)
    refs = [g.referral(i) for i in range(a.count)]
    text = json.dumps(refs, ensure_ascii=False, indent=1) + "\n"
    if a.out == "-":
        sys.stdout.write(text)
    else:
        with open(a.out, "w", encoding="utf-8") as f:
            f.write(text)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

//! Deterministic seed data: Accounts, Contacts and Leads from Japan, France, South Korea and the
//! United States, with phone numbers typed the many ways people type them.
//!
//! [`dataset`] returns the same records on every run and every machine: the variety comes from a
//! fixed-seed xorshift generator written here with plain arithmetic, so no RNG crate version can
//! change the data. Accounts come first, then Contacts, then Leads. The server assigns Ids in
//! order, resolves [`SeedRecord::account_key`] to `AccountId` and computes `Name` for Contacts and
//! Leads as `FirstName LastName` (what Salesforce shows an `en_US` user).
//!
//! [`known_callers`] is a small hand-written list that tests use to assert screen pops: each
//! entry is in the dataset with exactly its `stored_as` value. A number that is not `shared`
//! belongs to exactly one record: no generated number has the same last eight digits as another
//! number, so neither phone-matching mode finds a second record for it. Generated names never
//! repeat a known caller's full name.
//!
//! All names, companies and numbers are synthetic (emails use `*.example.com` domains, US numbers
//! the fictional 555-01xx range).

use std::collections::HashSet;

use serde_json::{Map, Value};

use crate::phone::digits;

/// One record to load, before Ids exist.
#[derive(Clone, Debug)]
pub struct SeedRecord {
    /// A stable key, unique in the dataset (`acct-jp-001`, `known-contact-us-1` …).
    pub key: String,
    /// `Account`, `Contact` or `Lead`.
    pub sobject: &'static str,
    /// Field values as they would be typed (no `Id`, no `Name` for Contacts and Leads).
    pub fields: Map<String, Value>,
    /// For a Contact, the key of its Account (an earlier record); the server sets `AccountId`.
    pub account_key: Option<String>,
}

/// A caller whose number is in the seed data, for tests that assert pops.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KnownCaller {
    /// The number in E.164 form, as the telephony side reports it (`+81312345678`).
    pub e164: &'static str,
    /// `JP`, `FR`, `KR` or `US`.
    pub region: &'static str,
    /// The field value exactly as stored (`03-1234-5678`).
    pub stored_as: &'static str,
    /// `Contact`, `Lead` or `Account`.
    pub sobject: &'static str,
    /// The record's `Name` (`FirstName LastName` for Contacts and Leads).
    pub name: &'static str,
    /// The field holding the number: `Phone` or `MobilePhone`.
    pub field: &'static str,
    /// Whether other records carry the same number too.
    pub shared: bool,
}

/// The hand-written callers; every one is in [`dataset`] with exactly these values.
pub fn known_callers() -> Vec<KnownCaller> {
    KNOWN
        .iter()
        .map(|k| KnownCaller {
            e164: k.e164,
            region: k.region,
            stored_as: k.stored_as,
            sobject: k.sobject,
            name: k.name,
            field: k.field,
            shared: k.shared,
        })
        .collect()
}

/// A known caller plus what the dataset needs to build its record.
struct Known {
    e164: &'static str,
    region: &'static str,
    stored_as: &'static str,
    sobject: &'static str,
    name: &'static str,
    field: &'static str,
    shared: bool,
    /// First and last name (Contacts, Leads).
    first: &'static str,
    last: &'static str,
    /// The Account key (Contacts) or the company (Leads).
    org: &'static str,
    email: &'static str,
    title: &'static str,
}

const fn known(
    e164: &'static str,
    region: &'static str,
    stored_as: &'static str,
    sobject: &'static str,
    (first, last): (&'static str, &'static str),
    name: &'static str,
    field: &'static str,
    shared: bool,
    org: &'static str,
    email: &'static str,
    title: &'static str,
) -> Known {
    Known {
        e164,
        region,
        stored_as,
        sobject,
        name,
        field,
        shared,
        first,
        last,
        org,
        email,
        title,
    }
}

/// Accounts of the known callers: key, name, phone, country, type.
const KNOWN_ACCOUNTS: &[(&str, &str, &str, &str, &str)] = &[
    (
        "known-acct-jp-1",
        "山田商事株式会社",
        "03-5200-1000",
        "Japan",
        "Customer - Direct",
    ),
    (
        "known-acct-jp-2",
        "浪速電機株式会社",
        "06-6123-4567",
        "Japan",
        "Customer - Channel",
    ),
    (
        "known-acct-jp-3",
        "鈴木建設株式会社",
        "045-671-2000",
        "Japan",
        "Prospect",
    ),
    (
        "known-acct-fr-1",
        "Dubois & Fils SARL",
        "+33 1 40 20 50 50",
        "France",
        "Customer - Direct",
    ),
    (
        "known-acct-kr-1",
        "한빛전자 주식회사",
        "02-555-1234",
        "South Korea",
        "Partner",
    ),
    (
        "known-acct-us-1",
        "Bayview Analytics Inc.",
        "(415) 555-0150",
        "United States",
        "Customer - Direct",
    ),
    (
        "known-acct-us-2",
        "Hudson Street Partners LLC",
        "(212) 555-0111",
        "United States",
        "Prospect",
    ),
];

const KNOWN: &[Known] = &[
    known(
        "+81312345678",
        "JP",
        "03-1234-5678",
        "Contact",
        ("太郎", "山田"),
        "太郎 山田",
        "Phone",
        false,
        "known-acct-jp-1",
        "taro.yamada@yamada-shoji.example.com",
        "代表取締役",
    ),
    known(
        "+81323456789",
        "JP",
        "+81 3-2345-6789",
        "Contact",
        ("花子", "佐藤"),
        "花子 佐藤",
        "Phone",
        false,
        "known-acct-jp-1",
        "hanako.sato@yamada-shoji.example.com",
        "営業部 課長",
    ),
    known(
        "+819012345678",
        "JP",
        "090-1234-5678",
        "Contact",
        ("一郎", "鈴木"),
        "一郎 鈴木",
        "MobilePhone",
        false,
        "known-acct-jp-3",
        "ichiro.suzuki@suzuki-kensetsu.example.com",
        "現場監督",
    ),
    known(
        "+819023456789",
        "JP",
        "+81 90 2345 6789",
        "Lead",
        ("美咲", "高橋"),
        "美咲 高橋",
        "MobilePhone",
        false,
        "高橋デザイン事務所",
        "misaki.takahashi@takahashi-design.example.com",
        "",
    ),
    known(
        "+81661234567",
        "JP",
        "06-6123-4567",
        "Contact",
        ("健", "田中"),
        "健 田中",
        "Phone",
        true,
        "known-acct-jp-2",
        "ken.tanaka@naniwa-denki.example.com",
        "総務部 部長",
    ),
    known(
        "+81661234567",
        "JP",
        "06-6123-4567",
        "Contact",
        ("さくら", "中村"),
        "さくら 中村",
        "Phone",
        true,
        "known-acct-jp-2",
        "sakura.nakamura@naniwa-denki.example.com",
        "経理部",
    ),
    known(
        "+33123456789",
        "FR",
        "01 23 45 67 89",
        "Contact",
        ("Amélie", "Dubois"),
        "Amélie Dubois",
        "Phone",
        false,
        "known-acct-fr-1",
        "amelie.dubois@dubois-fils.example.com",
        "Gérante",
    ),
    known(
        "+33134567890",
        "FR",
        "+33 1 34 56 78 90",
        "Lead",
        ("François", "Lefèvre"),
        "François Lefèvre",
        "Phone",
        false,
        "Lefèvre Conseil",
        "francois.lefevre@lefevre-conseil.example.com",
        "",
    ),
    known(
        "+33612345678",
        "FR",
        "06 12 34 56 78",
        "Contact",
        ("Hélène", "Moreau"),
        "Hélène Moreau",
        "MobilePhone",
        false,
        "known-acct-fr-1",
        "helene.moreau@dubois-fils.example.com",
        "Responsable achats",
    ),
    known(
        "+33623456789",
        "FR",
        "+33 (0)6 23 45 67 89",
        "Lead",
        ("Sébastien", "Girard"),
        "Sébastien Girard",
        "MobilePhone",
        false,
        "Girard Immobilier",
        "sebastien.girard@girard-immo.example.com",
        "",
    ),
    known(
        "+8221234567",
        "KR",
        "02-123-4567",
        "Contact",
        ("민준", "김"),
        "민준 김",
        "Phone",
        false,
        "known-acct-kr-1",
        "minjun.kim@hanbit-elec.example.com",
        "과장",
    ),
    known(
        "+821012345678",
        "KR",
        "010-1234-5678",
        "Contact",
        ("서연", "이"),
        "서연 이",
        "MobilePhone",
        false,
        "known-acct-kr-1",
        "seoyeon.lee@hanbit-elec.example.com",
        "대리",
    ),
    known(
        "+821023456789",
        "KR",
        "+82 10-2345-6789",
        "Lead",
        ("지훈", "박"),
        "지훈 박",
        "MobilePhone",
        false,
        "푸른식품",
        "jihoon.park@pureun-foods.example.com",
        "",
    ),
    known(
        "+14155550100",
        "US",
        "(415) 555-0100",
        "Contact",
        ("Emily", "Carter"),
        "Emily Carter",
        "Phone",
        false,
        "known-acct-us-1",
        "emily.carter@bayview-analytics.example.com",
        "VP of Operations",
    ),
    known(
        "+14155550101",
        "US",
        "415.555.0101",
        "Lead",
        ("Michael", "Brooks"),
        "Michael Brooks",
        "Phone",
        false,
        "Brooks Dental Group",
        "michael.brooks@brooks-dental.example.com",
        "",
    ),
    known(
        "+14155550102",
        "US",
        "+1 415-555-0102",
        "Contact",
        ("Sarah", "Mitchell"),
        "Sarah Mitchell",
        "MobilePhone",
        false,
        "known-acct-us-1",
        "sarah.mitchell@bayview-analytics.example.com",
        "Account Executive",
    ),
    known(
        "+14155550103",
        "US",
        "4155550103",
        "Account",
        ("", ""),
        "Golden Gate Logistics",
        "Phone",
        false,
        "",
        "",
        "",
    ),
    known(
        "+12125550110",
        "US",
        "(212) 555-0110",
        "Contact",
        ("James", "Walker"),
        "James Walker",
        "Phone",
        true,
        "known-acct-us-2",
        "james.walker@hudson-partners.example.com",
        "Managing Partner",
    ),
    known(
        "+12125550110",
        "US",
        "(212) 555-0110",
        "Lead",
        ("James", "Walker"),
        "James Walker",
        "Phone",
        true,
        "Walker Consulting",
        "jwalker@walker-consulting.example.com",
        "",
    ),
];

/// The seed records: deterministic, at least 500, Accounts first.
pub fn dataset() -> Vec<SeedRecord> {
    let mut gen = Generator::new();
    let mut accounts = Vec::new();
    let mut contacts = Vec::new();
    let mut leads = Vec::new();

    for &(key, name, phone, country, kind) in KNOWN_ACCOUNTS {
        accounts.push(record(
            key,
            "Account",
            &[
                ("Name", name),
                ("Phone", phone),
                ("BillingCountry", country),
                ("Type", kind),
            ],
            None,
        ));
    }
    for (i, k) in KNOWN.iter().enumerate() {
        let key = format!(
            "known-{}-{}-{}",
            k.sobject.to_lowercase(),
            k.region.to_lowercase(),
            i + 1
        );
        let country = region(k.region).country;
        match k.sobject {
            "Account" => accounts.push(record(
                &key,
                "Account",
                &[
                    ("Name", k.name),
                    (k.field, k.stored_as),
                    ("BillingCountry", country),
                    ("Type", "Customer - Direct"),
                ],
                None,
            )),
            "Contact" => {
                let mut fields = vec![
                    ("FirstName", k.first),
                    ("LastName", k.last),
                    (k.field, k.stored_as),
                    ("Email", k.email),
                    ("MailingCountry", country),
                ];
                if !k.title.is_empty() {
                    fields.push(("Title", k.title));
                }
                contacts.push(record(&key, "Contact", &fields, Some(k.org)));
            }
            _ => leads.push(record(
                &key,
                "Lead",
                &[
                    ("FirstName", k.first),
                    ("LastName", k.last),
                    ("Company", k.org),
                    (k.field, k.stored_as),
                    ("Email", k.email),
                    ("Status", "Open - Not Contacted"),
                    ("Country", country),
                ],
                None,
            )),
        }
    }

    for r in REGIONS {
        gen.region(r, &mut accounts, &mut contacts, &mut leads);
    }

    let mut all = accounts;
    all.append(&mut contacts);
    all.append(&mut leads);
    all
}

/// Builds a record from string fields; `IsConverted` is added for Leads.
fn record(
    key: &str,
    sobject: &'static str,
    fields: &[(&str, &str)],
    account_key: Option<&str>,
) -> SeedRecord {
    let mut map = Map::new();
    for &(k, v) in fields {
        map.insert(k.to_string(), Value::String(v.to_string()));
    }
    if sobject == "Lead" {
        let converted = map.get("Status").and_then(Value::as_str) == Some("Closed - Converted");
        map.insert("IsConverted".into(), Value::Bool(converted));
    }
    SeedRecord {
        key: key.to_string(),
        sobject,
        fields: map,
        account_key: account_key.map(str::to_string),
    }
}

// ---------------------------------------------------------------------------------------------
// Generation

/// xorshift64* with a fixed seed: deterministic, dependency-free.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn below(&mut self, n: usize) -> usize {
        // n is small; the modulo bias is irrelevant for seed data.
        (self.next() >> 33) as usize % n.max(1)
    }

    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }

    fn chance(&mut self, percent: usize) -> bool {
        self.below(100) < percent
    }

    /// `n` random decimal digits.
    fn digits(&mut self, n: usize) -> String {
        (0..n)
            .map(|_| char::from(b'0' + self.below(10) as u8))
            .collect()
    }
}

/// A person's name: local script and a romanized form for the email address.
type Name = (&'static str, &'static str);

/// What differs per country.
struct Region {
    code: &'static str,
    country: &'static str,
    given: &'static [Name],
    family: &'static [Name],
    titles: &'static [&'static str],
    /// Company name patterns: `{F}` family name, `{S}` stem, `{K}` kind.
    company_patterns: &'static [&'static str],
    stems: &'static [Name],
    kinds: &'static [Name],
    landline: fn(&mut Rng) -> Phone,
    mobile: fn(&mut Rng) -> Phone,
    accounts: usize,
    contacts: usize,
    leads: usize,
}

/// A generated number: how it is typed, and its national significant number (no country code,
/// no trunk 0) for the uniqueness check.
struct Phone {
    typed: String,
    national: String,
}

fn region(code: &str) -> &'static Region {
    REGIONS
        .iter()
        .find(|r| r.code == code)
        .unwrap_or(&REGIONS[0])
}

const REGIONS: &[Region] = &[
    Region {
        code: "JP",
        country: "Japan",
        given: &[
            ("翔太", "shota"),
            ("大輔", "daisuke"),
            ("拓也", "takuya"),
            ("健太", "kenta"),
            ("直樹", "naoki"),
            ("陽子", "yoko"),
            ("恵子", "keiko"),
            ("由美", "yumi"),
            ("真由美", "mayumi"),
            ("愛", "ai"),
            ("結衣", "yui"),
            ("葵", "aoi"),
            ("蓮", "ren"),
            ("悠真", "yuma"),
            ("陽翔", "haruto"),
            ("優子", "yuko"),
            ("和也", "kazuya"),
            ("彩", "aya"),
            ("ゆかり", "yukari"),
            ("まゆみ", "mayumi"),
        ],
        family: &[
            ("佐々木", "sasaki"),
            ("伊藤", "ito"),
            ("渡辺", "watanabe"),
            ("山本", "yamamoto"),
            ("小林", "kobayashi"),
            ("加藤", "kato"),
            ("吉田", "yoshida"),
            ("山口", "yamaguchi"),
            ("松本", "matsumoto"),
            ("井上", "inoue"),
            ("木村", "kimura"),
            ("林", "hayashi"),
            ("斎藤", "saito"),
            ("清水", "shimizu"),
            ("山崎", "yamazaki"),
            ("森", "mori"),
            ("池田", "ikeda"),
            ("橋本", "hashimoto"),
            ("阿部", "abe"),
            ("石川", "ishikawa"),
            ("前田", "maeda"),
            ("藤田", "fujita"),
            ("岡田", "okada"),
            ("後藤", "goto"),
        ],
        titles: &[
            "部長",
            "課長",
            "営業部 主任",
            "代表取締役",
            "総務部 係長",
            "エンジニア",
            "購買担当",
        ],
        company_patterns: &[
            "{S}{K}株式会社",
            "株式会社{S}{K}",
            "{F}{K}株式会社",
            "有限会社{S}{K}",
        ],
        stems: &[
            ("さくら", "sakura"),
            ("東海", "tokai"),
            ("北斗", "hokuto"),
            ("みらい", "mirai"),
            ("大和", "yamato"),
            ("富士", "fuji"),
            ("青葉", "aoba"),
            ("光", "hikari"),
            ("日本橋", "nihonbashi"),
            ("港", "minato"),
            ("朝日", "asahi"),
            ("若葉", "wakaba"),
        ],
        kinds: &[
            ("商事", "shoji"),
            ("電機", "denki"),
            ("工業", "kogyo"),
            ("物産", "bussan"),
            ("システム", "system"),
            ("製作所", "seisakusho"),
            ("不動産", "fudosan"),
            ("食品", "shokuhin"),
        ],
        landline: jp_landline,
        mobile: jp_mobile,
        accounts: 22,
        contacts: 66,
        leads: 40,
    },
    Region {
        code: "FR",
        country: "France",
        given: &[
            ("Camille", "camille"),
            ("Léa", "lea"),
            ("Manon", "manon"),
            ("Chloé", "chloe"),
            ("Inès", "ines"),
            ("Zoé", "zoe"),
            ("Élodie", "elodie"),
            ("Céline", "celine"),
            ("Mathilde", "mathilde"),
            ("Margaux", "margaux"),
            ("Lucas", "lucas"),
            ("Hugo", "hugo"),
            ("Théo", "theo"),
            ("Louis", "louis"),
            ("Nathan", "nathan"),
            ("Julien", "julien"),
            ("Étienne", "etienne"),
            ("Jérôme", "jerome"),
            ("Benoît", "benoit"),
            ("Grégoire", "gregoire"),
            ("Antoine", "antoine"),
            ("Maxime", "maxime"),
        ],
        family: &[
            ("Martin", "martin"),
            ("Bernard", "bernard"),
            ("Thomas", "thomas"),
            ("Petit", "petit"),
            ("Robert", "robert"),
            ("Richard", "richard"),
            ("Durand", "durand"),
            ("Leroy", "leroy"),
            ("Roux", "roux"),
            ("Fournier", "fournier"),
            ("Lambert", "lambert"),
            ("Bonnet", "bonnet"),
            ("Mercier", "mercier"),
            ("Blanc", "blanc"),
            ("Guérin", "guerin"),
            ("Boyer", "boyer"),
            ("Garnier", "garnier"),
            ("Chevalier", "chevalier"),
            ("Rousseau", "rousseau"),
            ("Gauthier", "gauthier"),
            ("Perrin", "perrin"),
            ("Faure", "faure"),
            ("Brun", "brun"),
            ("Lefèbvre", "lefebvre"),
        ],
        titles: &[
            "Chef de projet",
            "Responsable achats",
            "Directeur général",
            "Comptable",
            "Responsable logistique",
            "Ingénieur commercial",
        ],
        company_patterns: &[
            "{F} SARL",
            "Groupe {F}",
            "{F} & Associés",
            "{S} {K}",
            "Ateliers {F}",
            "Cabinet {F}",
        ],
        stems: &[
            ("Lumière", "lumiere"),
            ("Horizon", "horizon"),
            ("Alpine", "alpine"),
            ("Atlantique", "atlantique"),
            ("Provence", "provence"),
            ("Vauban", "vauban"),
            ("Solaris", "solaris"),
            ("Méridien", "meridien"),
        ],
        kinds: &[
            ("Logistique", "logistique"),
            ("Distribution", "distribution"),
            ("Conseil", "conseil"),
            ("Industries", "industries"),
            ("Énergie", "energie"),
            ("Santé", "sante"),
        ],
        landline: fr_landline,
        mobile: fr_mobile,
        accounts: 22,
        contacts: 66,
        leads: 40,
    },
    Region {
        code: "KR",
        country: "South Korea",
        given: &[
            ("서준", "seojun"),
            ("도윤", "doyun"),
            ("예준", "yejun"),
            ("시우", "siwoo"),
            ("하준", "hajun"),
            ("지호", "jiho"),
            ("지우", "jiwoo"),
            ("서윤", "seoyun"),
            ("하윤", "hayun"),
            ("지민", "jimin"),
            ("수아", "sua"),
            ("지아", "jia"),
            ("은서", "eunseo"),
            ("현우", "hyunwoo"),
            ("성민", "sungmin"),
            ("영희", "younghee"),
            ("정훈", "junghoon"),
            ("상철", "sangchul"),
            ("미경", "mikyung"),
            ("혜진", "hyejin"),
        ],
        family: &[
            ("김", "kim"),
            ("이", "lee"),
            ("박", "park"),
            ("최", "choi"),
            ("정", "jung"),
            ("강", "kang"),
            ("조", "cho"),
            ("윤", "yoon"),
            ("장", "jang"),
            ("임", "lim"),
            ("한", "han"),
            ("오", "oh"),
            ("서", "seo"),
            ("신", "shin"),
            ("권", "kwon"),
        ],
        titles: &["대리", "과장", "부장", "팀장", "대표이사", "주임", "차장"],
        company_patterns: &["(주){S}{K}", "{S}{K} 주식회사", "{S}{K}"],
        stems: &[
            ("미래", "mirae"),
            ("대한", "daehan"),
            ("서울", "seoul"),
            ("하나", "hana"),
            ("동방", "dongbang"),
            ("세종", "sejong"),
            ("태양", "taeyang"),
            ("새빛", "saebit"),
        ],
        kinds: &[
            ("전자", "elec"),
            ("물산", "trading"),
            ("건설", "construction"),
            ("테크", "tech"),
            ("식품", "foods"),
            ("통상", "tongsang"),
            ("소프트", "soft"),
        ],
        landline: kr_landline,
        mobile: kr_mobile,
        accounts: 22,
        contacts: 66,
        leads: 40,
    },
    Region {
        code: "US",
        country: "United States",
        given: &[
            ("Olivia", "olivia"),
            ("Emma", "emma"),
            ("Ava", "ava"),
            ("Sophia", "sophia"),
            ("Isabella", "isabella"),
            ("Mia", "mia"),
            ("Charlotte", "charlotte"),
            ("Amelia", "amelia"),
            ("Harper", "harper"),
            ("Liam", "liam"),
            ("Noah", "noah"),
            ("William", "william"),
            ("Benjamin", "benjamin"),
            ("Lucas", "lucas"),
            ("Henry", "henry"),
            ("Alexander", "alexander"),
            ("Ethan", "ethan"),
            ("Daniel", "daniel"),
            ("Matthew", "matthew"),
            ("Jackson", "jackson"),
            ("Grace", "grace"),
            ("Ryan", "ryan"),
            ("James", "james"),
            ("Emily", "emily"),
        ],
        family: &[
            ("Smith", "smith"),
            ("Johnson", "johnson"),
            ("Williams", "williams"),
            ("Brown", "brown"),
            ("Jones", "jones"),
            ("Garcia", "garcia"),
            ("Miller", "miller"),
            ("Davis", "davis"),
            ("Rodriguez", "rodriguez"),
            ("Martinez", "martinez"),
            ("Nguyen", "nguyen"),
            ("Lopez", "lopez"),
            ("Wilson", "wilson"),
            ("Anderson", "anderson"),
            ("Taylor", "taylor"),
            ("Moore", "moore"),
            ("Thompson", "thompson"),
            ("White", "white"),
            ("Harris", "harris"),
            ("Clark", "clark"),
            ("Lewis", "lewis"),
            ("Robinson", "robinson"),
            ("Young", "young"),
            ("Allen", "allen"),
            ("Wright", "wright"),
            ("Scott", "scott"),
            ("Green", "green"),
            ("Baker", "baker"),
            ("Adams", "adams"),
            ("O'Brien", "obrien"),
        ],
        titles: &[
            "Sales Manager",
            "VP of Operations",
            "Office Manager",
            "CFO",
            "Account Executive",
            "IT Director",
            "Procurement Lead",
        ],
        company_patterns: &["{F} {K}", "{S} {K}", "{S} {K}", "{F} & Co."],
        stems: &[
            ("Pinecrest", "pinecrest"),
            ("Redwood", "redwood"),
            ("Summit", "summit"),
            ("Harbor", "harbor"),
            ("Lakeside", "lakeside"),
            ("Blue Ridge", "blueridge"),
            ("Evergreen", "evergreen"),
            ("Silver Creek", "silvercreek"),
        ],
        kinds: &[
            ("Consulting LLC", "consulting"),
            ("Industries Inc.", "industries"),
            ("Health Partners", "health"),
            ("Logistics Corp.", "logistics"),
            ("Software Inc.", "software"),
            ("Dental Group", "dental"),
            ("Realty LLC", "realty"),
            ("Manufacturing Co.", "mfg"),
        ],
        landline: us_number,
        mobile: us_number,
        accounts: 22,
        contacts: 66,
        leads: 40,
    },
];

/// Lead statuses with their weights (percent).
const LEAD_STATUSES: &[(&str, usize)] = &[
    ("Open - Not Contacted", 45),
    ("Working - Contacted", 35),
    ("Closed - Not Converted", 12),
    ("Closed - Converted", 8),
];

const ACCOUNT_TYPES: &[&str] = &[
    "Customer - Direct",
    "Customer - Direct",
    "Customer - Channel",
    "Prospect",
    "Prospect",
    "Partner",
    "Other",
];

/// A generated account: its key, name, office number, email domain.
struct GenAccount {
    key: String,
    name: String,
    phone: String,
    domain: String,
}

/// A generated contact a Lead may duplicate (same person, same number).
struct GenPerson {
    first: &'static str,
    last: &'static str,
    email: String,
    number: (&'static str, String),
}

struct Generator {
    rng: Rng,
    /// Last eight digits of every national number handed out, so no two records share a number
    /// by accident (in either phone-matching mode).
    used: HashSet<String>,
    /// Full names of the known callers, which generated people must not repeat.
    known_names: HashSet<String>,
}

impl Generator {
    fn new() -> Self {
        let mut used = HashSet::new();
        for (_, _, phone, _, _) in KNOWN_ACCOUNTS {
            used.insert(key_digits(&digits(phone)));
        }
        for k in KNOWN {
            used.insert(key_digits(&digits(k.e164)));
        }
        let known_names = KNOWN.iter().map(|k| k.name.to_string()).collect();
        Self {
            rng: Rng(0x5EED_CA11_B0B0_2026),
            used,
            known_names,
        }
    }

    /// A fresh number from `make`, unique by its last eight digits.
    fn number(&mut self, make: fn(&mut Rng) -> Phone) -> String {
        loop {
            let phone = make(&mut self.rng);
            if self.used.insert(key_digits(&phone.national)) {
                return phone.typed;
            }
        }
    }

    /// A person whose full name is not a known caller's.
    fn person(&mut self, r: &Region) -> (Name, Name) {
        loop {
            let given = *self.rng.pick(r.given);
            let family = *self.rng.pick(r.family);
            if !self
                .known_names
                .contains(&format!("{} {}", given.0, family.0))
            {
                return (given, family);
            }
        }
    }

    fn company(&mut self, r: &Region) -> (String, String) {
        let pattern = *self.rng.pick(r.company_patterns);
        let family = *self.rng.pick(r.family);
        let stem = *self.rng.pick(r.stems);
        let kind = *self.rng.pick(r.kinds);
        let name = pattern
            .replace("{F}", family.0)
            .replace("{S}", stem.0)
            .replace("{K}", kind.0);
        let slug_parts: Vec<&str> = [("{F}", family.1), ("{S}", stem.1), ("{K}", kind.1)]
            .into_iter()
            .filter(|(p, _)| pattern.contains(p))
            .map(|(_, s)| s)
            .collect();
        let domain = format!("{}.example.com", slug_parts.join("-"));
        (name, domain)
    }

    fn region(
        &mut self,
        r: &Region,
        accounts: &mut Vec<SeedRecord>,
        contacts: &mut Vec<SeedRecord>,
        leads: &mut Vec<SeedRecord>,
    ) {
        let code = r.code.to_lowercase();
        let mut gen_accounts: Vec<GenAccount> = Vec::new();
        let mut names_taken: HashSet<String> =
            KNOWN_ACCOUNTS.iter().map(|a| a.1.to_string()).collect();
        while gen_accounts.len() < r.accounts {
            let (name, domain) = self.company(r);
            if !names_taken.insert(name.clone()) {
                continue;
            }
            let key = format!("acct-{code}-{:03}", gen_accounts.len() + 1);
            let phone = self.number(r.landline);
            let mut fields = vec![
                ("Name", name.clone()),
                ("Phone", phone.clone()),
                ("BillingCountry", r.country.to_string()),
                ("Type", self.rng.pick(ACCOUNT_TYPES).to_string()),
            ];
            if self.rng.chance(30) {
                fields.push(("Fax", self.number(r.landline)));
            }
            accounts.push(owned_record(&key, "Account", fields, None));
            gen_accounts.push(GenAccount {
                key,
                name,
                phone,
                domain,
            });
        }

        let mut people: Vec<GenPerson> = Vec::new();
        for i in 0..r.contacts {
            let account = self.rng.below(gen_accounts.len());
            let ((first, first_latin), (last, last_latin)) = self.person(r);
            let email = format!(
                "{first_latin}.{last_latin}@{}",
                gen_accounts[account].domain
            );
            let mut fields = vec![
                ("FirstName", first.to_string()),
                ("LastName", last.to_string()),
                ("MailingCountry", r.country.to_string()),
                ("Title", self.rng.pick(r.titles).to_string()),
            ];
            let roll = self.rng.below(100);
            let phone = if roll < 25 {
                // At the office number, which the Account and colleagues share.
                Some(gen_accounts[account].phone.clone())
            } else if roll < 37 {
                None // mobile only
            } else {
                Some(self.number(r.landline))
            };
            let mobile = if phone.is_none() || self.rng.chance(45) {
                Some(self.number(r.mobile))
            } else {
                None
            };
            if let Some(p) = &phone {
                fields.push(("Phone", p.clone()));
            }
            if let Some(m) = &mobile {
                fields.push(("MobilePhone", m.clone()));
            }
            if self.rng.chance(5) {
                fields.push(("HomePhone", self.number(r.landline)));
            }
            if self.rng.chance(3) {
                fields.push(("AssistantPhone", self.number(r.landline)));
            }
            if r.code != "JP" || self.rng.chance(80) {
                fields.push(("Email", email.clone()));
            }
            // A person reachable on their own number can reappear as a Lead (not yet merged).
            let own = match (&mobile, &phone) {
                (Some(m), _) => Some(("MobilePhone", m.clone())),
                (None, Some(p)) if *p != gen_accounts[account].phone => Some(("Phone", p.clone())),
                _ => None,
            };
            if let Some(number) = own {
                people.push(GenPerson {
                    first,
                    last,
                    email,
                    number,
                });
            }
            let key = format!("contact-{code}-{:03}", i + 1);
            contacts.push(owned_record(
                &key,
                "Contact",
                fields,
                Some(&gen_accounts[account].key),
            ));
        }

        for i in 0..r.leads {
            let key = format!("lead-{code}-{:03}", i + 1);
            let status = self.lead_status();
            if self.rng.chance(15) && !people.is_empty() {
                let idx = self.rng.below(people.len());
                let p = people.swap_remove(idx);
                let company = gen_accounts
                    .iter()
                    .find(|a| p.email.ends_with(&format!("@{}", a.domain)))
                    .map_or_else(|| r.country.to_string(), |a| a.name.clone());
                let fields = vec![
                    ("FirstName", p.first.to_string()),
                    ("LastName", p.last.to_string()),
                    ("Company", company),
                    (p.number.0, p.number.1),
                    ("Email", p.email),
                    ("Status", "Open - Not Contacted".to_string()),
                    ("Country", r.country.to_string()),
                ];
                leads.push(owned_record(&key, "Lead", fields, None));
                continue;
            }
            let ((first, first_latin), (last, last_latin)) = self.person(r);
            let (company, domain) = self.company(r);
            let mut fields = vec![
                ("FirstName", first.to_string()),
                ("LastName", last.to_string()),
                ("Company", company),
                ("Email", format!("{first_latin}.{last_latin}@{domain}")),
                ("Status", status.to_string()),
                ("Country", r.country.to_string()),
            ];
            let roll = self.rng.below(100);
            if roll < 70 {
                fields.push(("Phone", self.number(r.landline)));
            }
            if roll >= 50 {
                fields.push(("MobilePhone", self.number(r.mobile)));
            }
            leads.push(owned_record(&key, "Lead", fields, None));
        }
    }

    fn lead_status(&mut self) -> &'static str {
        let mut roll = self.rng.below(100);
        for &(status, weight) in LEAD_STATUSES {
            if roll < weight {
                return status;
            }
            roll -= weight;
        }
        LEAD_STATUSES[0].0
    }
}

fn owned_record(
    key: &str,
    sobject: &'static str,
    fields: Vec<(&str, String)>,
    account_key: Option<&str>,
) -> SeedRecord {
    let borrowed: Vec<(&str, &str)> = fields.iter().map(|(k, v)| (*k, v.as_str())).collect();
    record(key, sobject, &borrowed, account_key)
}

/// The uniqueness key of a number: its last eight digits.
fn key_digits(digits: &str) -> String {
    let start = digits.len().saturating_sub(8);
    digits[start..].to_string()
}

/// `n` digits whose first is 2–9 (subscriber numbers do not start with 0 or 1).
fn subscriber(rng: &mut Rng, n: usize) -> String {
    let first = char::from(b'2' + rng.below(8) as u8);
    let mut s = String::from(first);
    s.push_str(&rng.digits(n - 1));
    s
}

/// ASCII digits and `-` as full-width characters, as a Japanese input method types them.
fn full_width(s: &str) -> String {
    s.chars()
        .map(|c| match c {
            '0'..='9' => {
                char::from_u32(u32::from(c) - u32::from('0') + u32::from('０')).unwrap_or(c)
            }
            '-' => '－',
            _ => c,
        })
        .collect()
}

fn jp_landline(rng: &mut Rng) -> Phone {
    // (area code without trunk 0, digits of the first local group)
    const AREAS: &[(&str, usize)] = &[
        ("3", 4),
        ("6", 4),
        ("45", 3),
        ("52", 3),
        ("92", 3),
        ("11", 3),
        ("75", 3),
    ];
    let &(area, len) = rng.pick(AREAS);
    let a = subscriber(rng, len);
    let b = rng.digits(4);
    let typed = match rng.below(10) {
        0..=3 => format!("0{area}-{a}-{b}"),
        4..=5 => format!("+81 {area}-{a}-{b}"),
        6 => format!("0{area}{a}{b}"),
        7..=8 => format!("0{area}({a}){b}"),
        _ => full_width(&format!("0{area}-{a}-{b}")),
    };
    Phone {
        typed,
        national: format!("{area}{a}{b}"),
    }
}

fn jp_mobile(rng: &mut Rng) -> Phone {
    let prefix = *rng.pick(&["90", "80", "70"]);
    let a = subscriber(rng, 4);
    let b = rng.digits(4);
    let typed = match rng.below(10) {
        0..=4 => format!("0{prefix}-{a}-{b}"),
        5..=6 => format!("+81 {prefix} {a} {b}"),
        7 => format!("+81-{prefix}-{a}-{b}"),
        _ => format!("0{prefix}{a}{b}"),
    };
    Phone {
        typed,
        national: format!("{prefix}{a}{b}"),
    }
}

/// `d` as pairs separated by `sep`: `12345678` → `12 34 56 78`.
fn pairs(d: &str, sep: &str) -> String {
    d.as_bytes()
        .chunks(2)
        .map(|c| String::from_utf8_lossy(c).into_owned())
        .collect::<Vec<_>>()
        .join(sep)
}

fn fr_landline(rng: &mut Rng) -> Phone {
    let zone = char::from(b'1' + rng.below(5) as u8);
    let rest = rng.digits(8);
    let typed = match rng.below(10) {
        0..=4 => format!("0{zone} {}", pairs(&rest, " ")),
        5..=6 => format!("+33 {zone} {}", pairs(&rest, " ")),
        7..=8 => format!("0{zone}.{}", pairs(&rest, ".")),
        _ => format!("0{zone}{rest}"),
    };
    Phone {
        typed,
        national: format!("{zone}{rest}"),
    }
}

fn fr_mobile(rng: &mut Rng) -> Phone {
    let zone = *rng.pick(&['6', '7']);
    let rest = rng.digits(8);
    let typed = match rng.below(10) {
        0..=4 => format!("0{zone} {}", pairs(&rest, " ")),
        5..=6 => format!("+33 (0){zone} {}", pairs(&rest, " ")),
        7..=8 => format!("+33 {zone} {}", pairs(&rest, " ")),
        _ => format!("+33{zone}{rest}"),
    };
    Phone {
        typed,
        national: format!("{zone}{rest}"),
    }
}

fn kr_landline(rng: &mut Rng) -> Phone {
    let area = *rng.pick(&["2", "2", "31", "32", "51", "53"]);
    let len = if rng.chance(50) { 3 } else { 4 };
    let a = subscriber(rng, len);
    let b = rng.digits(4);
    let typed = match rng.below(10) {
        0..=6 => format!("0{area}-{a}-{b}"),
        7..=8 => format!("+82 {area}-{a}-{b}"),
        _ => format!("0{area}{a}{b}"),
    };
    Phone {
        typed,
        national: format!("{area}{a}{b}"),
    }
}

fn kr_mobile(rng: &mut Rng) -> Phone {
    let a = subscriber(rng, 4);
    let b = rng.digits(4);
    let typed = match rng.below(10) {
        0..=5 => format!("010-{a}-{b}"),
        6..=7 => format!("+82 10-{a}-{b}"),
        8 => format!("010{a}{b}"),
        _ => format!("+82-10-{a}-{b}"),
    };
    Phone {
        typed,
        national: format!("10{a}{b}"),
    }
}

fn us_number(rng: &mut Rng) -> Phone {
    let area = *rng.pick(&[
        "415", "212", "312", "617", "206", "512", "303", "404", "628", "646",
    ]);
    let line = format!("01{}", rng.digits(2));
    let typed = match rng.below(12) {
        0..=3 => format!("({area}) 555-{line}"),
        4..=5 => format!("{area}.555.{line}"),
        6..=7 => format!("+1 {area}-555-{line}"),
        8 => format!("{area}555{line}"),
        9..=10 => format!("{area}-555-{line}"),
        _ => format!("+1 ({area}) 555-{line}"),
    };
    Phone {
        typed,
        national: format!("{area}555{line}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::phone::{phone_matches, PhoneMatch};

    const PHONE_FIELDS: [&str; 6] = [
        "Phone",
        "MobilePhone",
        "HomePhone",
        "OtherPhone",
        "AssistantPhone",
        "Fax",
    ];

    fn text<'a>(r: &'a SeedRecord, field: &str) -> Option<&'a str> {
        r.fields.get(field).and_then(Value::as_str)
    }

    fn display_name(r: &SeedRecord) -> String {
        match r.sobject {
            "Account" => text(r, "Name").unwrap_or_default().to_string(),
            _ => format!(
                "{} {}",
                text(r, "FirstName").unwrap_or_default(),
                text(r, "LastName").unwrap_or_default()
            ),
        }
    }

    /// The national significant number of an E.164 number of one of our four regions.
    fn national(e164: &str, region: &str) -> String {
        let d = digits(e164);
        let cc = match region {
            "JP" => "81",
            "FR" => "33",
            "KR" => "82",
            _ => "1",
        };
        d.strip_prefix(cc).map(str::to_string).unwrap_or(d)
    }

    #[test]
    fn dataset_is_large_and_deterministic() {
        let a = dataset();
        let b = dataset();
        assert!(a.len() >= 500, "at least 500 records, got {}", a.len());
        let flat = |d: &[SeedRecord]| -> Vec<(String, Value, Option<String>)> {
            d.iter()
                .map(|r| {
                    (
                        r.key.clone(),
                        Value::Object(r.fields.clone()),
                        r.account_key.clone(),
                    )
                })
                .collect()
        };
        assert_eq!(flat(&a), flat(&b), "two runs give identical data");
        let keys: HashSet<_> = a.iter().map(|r| r.key.as_str()).collect();
        assert_eq!(keys.len(), a.len(), "keys are unique");
    }

    #[test]
    fn accounts_come_first_and_contacts_point_at_earlier_accounts() {
        let data = dataset();
        let first_other = data
            .iter()
            .position(|r| r.sobject != "Account")
            .unwrap_or(data.len());
        assert!(
            data[first_other..].iter().all(|r| r.sobject != "Account"),
            "no Account after the first non-Account"
        );
        let account_keys: HashSet<_> = data[..first_other].iter().map(|r| r.key.as_str()).collect();
        for r in &data {
            if let Some(k) = &r.account_key {
                assert_eq!(
                    r.sobject, "Contact",
                    "only Contacts link to Accounts ({})",
                    r.key
                );
                assert!(
                    account_keys.contains(k.as_str()),
                    "{} links to an existing Account {k}",
                    r.key
                );
            }
        }
        let linked = data.iter().filter(|r| r.account_key.is_some()).count();
        let contacts = data.iter().filter(|r| r.sobject == "Contact").count();
        assert_eq!(linked, contacts, "every Contact has an Account");
    }

    #[test]
    fn every_region_and_object_is_represented() {
        let data = dataset();
        for country in ["Japan", "France", "South Korea", "United States"] {
            for (sobject, field) in [
                ("Account", "BillingCountry"),
                ("Contact", "MailingCountry"),
                ("Lead", "Country"),
            ] {
                let n = data
                    .iter()
                    .filter(|r| r.sobject == sobject && text(r, field) == Some(country))
                    .count();
                assert!(n >= 20, "{country}: at least 20 {sobject} records, got {n}");
            }
        }
    }

    #[test]
    fn fields_exist_in_the_schema_and_required_ones_are_set() {
        for r in dataset() {
            for name in r.fields.keys() {
                assert!(
                    crate::schema::field(r.sobject, name).is_some(),
                    "{}: {}.{name} is a modelled field",
                    r.key,
                    r.sobject
                );
            }
            let required: &[&str] = match r.sobject {
                "Account" => &["Name"],
                "Contact" => &["LastName"],
                _ => &["LastName", "Company"],
            };
            for f in required {
                assert!(
                    text(&r, f).is_some_and(|v| !v.is_empty()),
                    "{}: {f} is set",
                    r.key
                );
            }
            let phones = PHONE_FIELDS
                .iter()
                .filter(|f| r.fields.contains_key(**f))
                .count();
            assert!(
                phones >= 1 || r.sobject == "Account",
                "{}: a person has a number",
                r.key
            );
        }
    }

    #[test]
    fn known_callers_are_in_the_dataset_with_exact_values() {
        let data = dataset();
        let callers = known_callers();
        assert!(callers.len() >= 16, "at least 16 known callers");
        for k in &callers {
            let found = data.iter().any(|r| {
                r.sobject == k.sobject
                    && text(r, k.field) == Some(k.stored_as)
                    && display_name(r) == k.name
            });
            assert!(
                found,
                "{} ({}) stored as {:?} in {}.{}",
                k.name, k.e164, k.stored_as, k.sobject, k.field
            );
        }
    }

    #[test]
    fn known_callers_cover_every_format_and_case() {
        let callers = known_callers();
        let formats = [
            "03-1234-5678",
            "+81 3-2345-6789",
            "090-1234-5678",
            "+81 90 2345 6789",
            "01 23 45 67 89",
            "+33 1 34 56 78 90",
            "06 12 34 56 78",
            "+33 (0)6 23 45 67 89",
            "02-123-4567",
            "010-1234-5678",
            "+82 10-2345-6789",
            "(415) 555-0100",
            "415.555.0101",
            "+1 415-555-0102",
            "4155550103",
        ];
        for f in formats {
            assert!(
                callers.iter().any(|k| k.stored_as == f),
                "a known caller is stored as {f}"
            );
        }
        for region in ["JP", "FR", "KR", "US"] {
            assert!(
                callers.iter().any(|k| k.region == region),
                "a known caller from {region}"
            );
        }
        assert!(
            callers.iter().filter(|k| k.shared).count() >= 2,
            "a shared-number case"
        );
        let data = dataset();
        let mobile_only = callers.iter().any(|k| {
            k.field == "MobilePhone"
                && data.iter().any(|r| {
                    text(r, "MobilePhone") == Some(k.stored_as) && !r.fields.contains_key("Phone")
                })
        });
        assert!(mobile_only, "a known caller has only a mobile number");
    }

    #[test]
    fn known_caller_numbers_agree_with_their_e164() {
        for k in known_callers() {
            let stored = digits(k.stored_as);
            let nsn = national(k.e164, k.region);
            let full = digits(k.e164);
            let cc = &full[..full.len() - nsn.len()];
            let ok = stored == full
                || stored == nsn
                || stored == format!("0{nsn}")
                || stored == format!("{cc}0{nsn}");
            assert!(
                ok,
                "{} stored as {} has the digits of {}",
                k.name, k.stored_as, k.e164
            );
        }
    }

    #[test]
    fn unshared_known_numbers_belong_to_one_record_in_both_modes() {
        let data = dataset();
        for k in known_callers() {
            let nsn = national(k.e164, k.region);
            let terms = [digits(k.e164), nsn.clone(), format!("0{nsn}")];
            for mode in [PhoneMatch::Exact, PhoneMatch::Suffix] {
                let hits = data
                    .iter()
                    .filter(|r| {
                        PHONE_FIELDS.iter().any(|f| {
                            text(r, f)
                                .is_some_and(|v| terms.iter().any(|t| phone_matches(mode, t, v)))
                        })
                    })
                    .count();
                if k.shared {
                    assert!(
                        hits >= 2,
                        "{} is shared: {hits} records in {mode:?}",
                        k.stored_as
                    );
                } else if mode == PhoneMatch::Suffix || hits > 0 {
                    assert_eq!(
                        hits, 1,
                        "{} ({}) matches one record in {mode:?}",
                        k.stored_as, k.name
                    );
                }
            }
        }
    }

    #[test]
    fn generated_data_has_shared_numbers_and_varied_typing() {
        let data = dataset();
        let mut by_digits: std::collections::HashMap<String, Vec<&str>> = Default::default();
        for r in &data {
            for f in PHONE_FIELDS {
                if let Some(v) = text(r, f) {
                    by_digits.entry(digits(v)).or_default().push(r.sobject);
                }
            }
        }
        let contact_and_lead = by_digits
            .values()
            .filter(|s| s.contains(&"Contact") && s.contains(&"Lead"))
            .count();
        let two_contacts = by_digits
            .values()
            .filter(|s| s.iter().filter(|o| **o == "Contact").count() >= 2)
            .count();
        assert!(
            contact_and_lead >= 10,
            "Contacts and Leads share numbers ({contact_and_lead})"
        );
        assert!(
            two_contacts >= 10,
            "colleagues share office numbers ({two_contacts})"
        );
        let values: Vec<&str> = data
            .iter()
            .flat_map(|r| PHONE_FIELDS.iter().filter_map(move |f| text(r, f)))
            .collect();
        for (what, pred) in [
            (
                "full-width digits",
                &(|v: &str| v.contains('０') || v.contains('５')) as &dyn Fn(&str) -> bool,
            ),
            ("+33 (0)", &|v: &str| v.starts_with("+33 (0)")),
            ("Japanese 03(1234)5678", &|v: &str| {
                v.starts_with('0') && v.contains('(')
            }),
            ("dotted US", &|v: &str| v.contains(".555.")),
            ("bare digits", &|v: &str| {
                v.chars().all(|c| c.is_ascii_digit())
            }),
        ] {
            assert!(
                values.iter().any(|v| pred(v)),
                "some number is typed as {what}"
            );
        }
        let mobile_only = data
            .iter()
            .filter(|r| {
                r.sobject == "Contact"
                    && r.fields.contains_key("MobilePhone")
                    && !r.fields.contains_key("Phone")
            })
            .count();
        assert!(
            mobile_only >= 10,
            "some Contacts have only a mobile ({mobile_only})"
        );
    }

    #[test]
    fn generated_names_do_not_repeat_known_callers() {
        let data = dataset();
        for k in known_callers() {
            let same = data.iter().filter(|r| display_name(r) == k.name).count();
            let expected = known_callers().iter().filter(|o| o.name == k.name).count();
            assert_eq!(
                same, expected,
                "{} appears only as the known caller(s)",
                k.name
            );
        }
    }

    #[test]
    fn names_are_in_each_locale_script() {
        let data = dataset();
        let has = |country: &str, pred: &dyn Fn(char) -> bool| {
            data.iter().any(|r| {
                text(r, "MailingCountry") == Some(country)
                    && text(r, "LastName").is_some_and(|n| n.chars().any(pred))
            })
        };
        assert!(
            has("Japan", &|c| ('\u{4E00}'..='\u{9FFF}').contains(&c)),
            "kanji surnames"
        );
        assert!(
            has("South Korea", &|c| ('\u{AC00}'..='\u{D7AF}').contains(&c)),
            "hangul surnames"
        );
        let accented_fr = data.iter().any(|r| {
            text(r, "MailingCountry") == Some("France")
                && text(r, "FirstName")
                    .is_some_and(|n| n.chars().any(|c| "éèêëàâîïôûüçÉ".contains(c)))
        });
        assert!(accented_fr, "French names with accents");
        let kana_jp = data.iter().any(|r| {
            text(r, "FirstName")
                .is_some_and(|n| n.chars().any(|c| ('\u{3040}'..='\u{309F}').contains(&c)))
        });
        assert!(kana_jp, "Japanese given names in kana");
    }
}

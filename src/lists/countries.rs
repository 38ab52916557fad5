//! Country names, codes and nationality adjectives -> ISO 3166-1 alpha-2.
//!
//! Lists name countries every which way: `Iran (Islamic Republic of)`, `Korea, North`, `DPRK`,
//! `Congo, Democratic Republic of the`, `Viet Nam`, `Türkiye`, `West Bank`, ISO alpha-3 (`IRQ`,
//! EU FSF), lower-case alpha-2 (`ru`, FtM/Senzing), and adjectives (`Iranian`, `Afghan`). The
//! table below is ISO 3166-1 (plus `XK` Kosovo, which OFAC, the EU and the UK use) with the
//! spellings these lists actually use on top. No crate covers the list spellings and adjectives,
//! so the table lives here.
//!
//! Names that do not identify one current country (`Congolese`, `former Soviet Union`,
//! `Netherlands Antilles`, `undetermined`) resolve to nothing: importers skip what does not
//! resolve and count it ([`CountryResolver`]), they never guess.

use std::collections::{BTreeMap, HashMap};
use std::sync::LazyLock;

/// alpha-2, alpha-3, names and aliases (any case, accents and punctuation; they are folded).
const COUNTRIES: &[(&str, &str, &[&str])] = &[
    ("AD", "AND", &["Andorra", "Andorran"]),
    ("AE", "ARE", &["United Arab Emirates", "UAE", "U.A.E.", "Emirati", "Emirates"]),
    ("AF", "AFG", &["Afghanistan", "Afghan", "Afgan", "Afghani", "Islamic Republic of Afghanistan"]),
    ("AG", "ATG", &["Antigua and Barbuda", "Antiguan"]),
    ("AI", "AIA", &["Anguilla"]),
    ("AL", "ALB", &["Albania", "Albanian"]),
    ("AM", "ARM", &["Armenia", "Armenian"]),
    ("AO", "AGO", &["Angola", "Angolan"]),
    ("AQ", "ATA", &["Antarctica"]),
    ("AR", "ARG", &["Argentina", "Argentine", "Argentinian"]),
    ("AS", "ASM", &["American Samoa"]),
    ("AT", "AUT", &["Austria", "Austrian"]),
    ("AU", "AUS", &["Australia", "Australian"]),
    ("AW", "ABW", &["Aruba"]),
    ("AX", "ALA", &["Aland Islands", "Åland Islands"]),
    ("AZ", "AZE", &["Azerbaijan", "Azerbaijani", "Azeri"]),
    ("BA", "BIH", &["Bosnia and Herzegovina", "Bosnia-Herzegovina", "Bosnia", "Bosnian"]),
    ("BB", "BRB", &["Barbados", "Barbadian"]),
    ("BD", "BGD", &["Bangladesh", "Bangladeshi"]),
    ("BE", "BEL", &["Belgium", "Belgian"]),
    ("BF", "BFA", &["Burkina Faso", "Burkinabe"]),
    ("BG", "BGR", &["Bulgaria", "Bulgarian"]),
    ("BH", "BHR", &["Bahrain", "Bahraini"]),
    ("BI", "BDI", &["Burundi", "Burundian"]),
    ("BJ", "BEN", &["Benin", "Beninese"]),
    ("BL", "BLM", &["Saint Barthelemy"]),
    ("BM", "BMU", &["Bermuda"]),
    ("BN", "BRN", &["Brunei", "Brunei Darussalam", "Bruneian"]),
    ("BO", "BOL", &["Bolivia", "Bolivia (Plurinational State of)", "Plurinational State of Bolivia", "Bolivian"]),
    ("BQ", "BES", &["Bonaire, Sint Eustatius and Saba", "Caribbean Netherlands"]),
    ("BR", "BRA", &["Brazil", "Brazilian"]),
    ("BS", "BHS", &["Bahamas", "Bahamas, The", "Bahamian"]),
    ("BT", "BTN", &["Bhutan", "Bhutanese"]),
    ("BV", "BVT", &["Bouvet Island"]),
    ("BW", "BWA", &["Botswana", "Botswanan", "Motswana"]),
    ("BY", "BLR", &["Belarus", "Belarusian", "Belarussian", "Byelorussian", "Republic of Belarus"]),
    ("BZ", "BLZ", &["Belize", "Belizean"]),
    ("CA", "CAN", &["Canada", "Canadian"]),
    ("CC", "CCK", &["Cocos (Keeling) Islands", "Cocos Islands"]),
    (
        "CD",
        "COD",
        &[
            "Congo, Democratic Republic of the",
            "Democratic Republic of the Congo",
            "Democratic Republic of Congo",
            "Congo (Democratic Republic)",
            "Congo, The Democratic Republic of the",
            "DRC",
            "DR Congo",
            "D.R. Congo",
            "Congo-Kinshasa",
            "Congo (Kinshasa)",
            "Zaire",
        ],
    ),
    ("CF", "CAF", &["Central African Republic", "CAR", "Central African"]),
    (
        "CG",
        "COG",
        &[
            "Congo",
            "Congo, Republic of the",
            "Republic of the Congo",
            "Republic of Congo",
            "Congo-Brazzaville",
            "Congo (Brazzaville)",
        ],
    ),
    ("CH", "CHE", &["Switzerland", "Swiss"]),
    ("CI", "CIV", &["Cote d'Ivoire", "Côte d'Ivoire", "Cote d Ivoire", "Ivory Coast", "Ivorian"]),
    ("CK", "COK", &["Cook Islands"]),
    ("CL", "CHL", &["Chile", "Chilean"]),
    ("CM", "CMR", &["Cameroon", "Cameroonian"]),
    ("CN", "CHN", &["China", "Chinese", "People's Republic of China", "PRC", "China, People's Republic of"]),
    ("CO", "COL", &["Colombia", "Colombian"]),
    ("CR", "CRI", &["Costa Rica", "Costa Rican"]),
    ("CU", "CUB", &["Cuba", "Cuban"]),
    ("CV", "CPV", &["Cabo Verde", "Cape Verde", "Cape Verdean"]),
    ("CW", "CUW", &["Curacao", "Curaçao"]),
    ("CX", "CXR", &["Christmas Island"]),
    ("CY", "CYP", &["Cyprus", "Cypriot"]),
    ("CZ", "CZE", &["Czechia", "Czech Republic", "Czech"]),
    ("DE", "DEU", &["Germany", "German", "Federal Republic of Germany"]),
    ("DJ", "DJI", &["Djibouti", "Djiboutian"]),
    ("DK", "DNK", &["Denmark", "Danish"]),
    ("DM", "DMA", &["Dominica"]),
    ("DO", "DOM", &["Dominican Republic"]),
    ("DZ", "DZA", &["Algeria", "Algerian"]),
    ("EC", "ECU", &["Ecuador", "Ecuadorian", "Ecuadorean"]),
    ("EE", "EST", &["Estonia", "Estonian"]),
    ("EG", "EGY", &["Egypt", "Egyptian", "Arab Republic of Egypt"]),
    ("EH", "ESH", &["Western Sahara"]),
    ("ER", "ERI", &["Eritrea", "Eritrean"]),
    ("ES", "ESP", &["Spain", "Spanish"]),
    ("ET", "ETH", &["Ethiopia", "Ethiopian"]),
    ("FI", "FIN", &["Finland", "Finnish"]),
    ("FJ", "FJI", &["Fiji", "Fijian"]),
    ("FK", "FLK", &["Falkland Islands", "Falkland Islands (Malvinas)"]),
    ("FM", "FSM", &["Micronesia", "Micronesia (Federated States of)", "Micronesia, Federated States of"]),
    ("FO", "FRO", &["Faroe Islands"]),
    ("FR", "FRA", &["France", "French"]),
    ("GA", "GAB", &["Gabon", "Gabonese"]),
    (
        "GB",
        "GBR",
        &[
            "United Kingdom",
            "United Kingdom of Great Britain and Northern Ireland",
            "UK",
            "U.K.",
            "Great Britain",
            "Britain",
            "British",
            "England",
            "Scotland",
            "Wales",
            "Northern Ireland",
            "English",
            "Scottish",
            "Welsh",
        ],
    ),
    ("GD", "GRD", &["Grenada", "Grenadian"]),
    ("GE", "GEO", &["Georgia", "Georgian"]),
    ("GF", "GUF", &["French Guiana"]),
    ("GG", "GGY", &["Guernsey"]),
    ("GH", "GHA", &["Ghana", "Ghanaian"]),
    ("GI", "GIB", &["Gibraltar"]),
    ("GL", "GRL", &["Greenland"]),
    ("GM", "GMB", &["Gambia", "The Gambia", "Gambia, The", "Gambian"]),
    ("GN", "GIN", &["Guinea", "Guinean", "Republic of Guinea"]),
    ("GP", "GLP", &["Guadeloupe"]),
    ("GQ", "GNQ", &["Equatorial Guinea", "Equatorial Guinean", "Equatoguinean"]),
    ("GR", "GRC", &["Greece", "Greek"]),
    ("GS", "SGS", &["South Georgia and the South Sandwich Islands"]),
    ("GT", "GTM", &["Guatemala", "Guatemalan"]),
    ("GU", "GUM", &["Guam"]),
    ("GW", "GNB", &["Guinea-Bissau", "Guinea Bissau", "Bissau-Guinean", "Republic of Guinea-Bissau"]),
    ("GY", "GUY", &["Guyana", "Guyanese"]),
    (
        "HK",
        "HKG",
        &[
            "Hong Kong",
            "Hong Kong SAR",
            "Hong Kong, China",
            "China, Hong Kong Special Administrative Region",
            "Hong Kong Special Administrative Region",
        ],
    ),
    ("HM", "HMD", &["Heard Island and McDonald Islands"]),
    ("HN", "HND", &["Honduras", "Honduran"]),
    ("HR", "HRV", &["Croatia", "Croatian"]),
    ("HT", "HTI", &["Haiti", "Haitian"]),
    ("HU", "HUN", &["Hungary", "Hungarian"]),
    ("ID", "IDN", &["Indonesia", "Indonesian"]),
    ("IE", "IRL", &["Ireland", "Irish", "Republic of Ireland"]),
    ("IL", "ISR", &["Israel", "Israeli"]),
    ("IM", "IMN", &["Isle of Man", "Man, Isle of"]),
    ("IN", "IND", &["India", "Indian"]),
    ("IO", "IOT", &["British Indian Ocean Territory"]),
    ("IQ", "IRQ", &["Iraq", "Iraqi", "Republic of Iraq"]),
    (
        "IR",
        "IRN",
        &[
            "Iran",
            "Iran (Islamic Republic of)",
            "Iran, Islamic Republic of",
            "Islamic Republic of Iran",
            "Iranian",
            "Persia",
        ],
    ),
    ("IS", "ISL", &["Iceland", "Icelandic"]),
    ("IT", "ITA", &["Italy", "Italian"]),
    ("JE", "JEY", &["Jersey"]),
    ("JM", "JAM", &["Jamaica", "Jamaican"]),
    ("JO", "JOR", &["Jordan", "Jordanian"]),
    ("JP", "JPN", &["Japan", "Japanese"]),
    ("KE", "KEN", &["Kenya", "Kenyan"]),
    ("KG", "KGZ", &["Kyrgyzstan", "Kyrgyz", "Kyrgyz Republic", "Kirghiz"]),
    ("KH", "KHM", &["Cambodia", "Cambodian"]),
    ("KI", "KIR", &["Kiribati"]),
    ("KM", "COM", &["Comoros", "Comorian", "Union of the Comoros"]),
    ("KN", "KNA", &["Saint Kitts and Nevis", "St. Kitts and Nevis", "St Kitts and Nevis", "St. Kitts & Nevis"]),
    (
        "KP",
        "PRK",
        &[
            "Korea, North",
            "North Korea",
            "North Korean",
            "DPRK",
            "D.P.R.K.",
            "Democratic People's Republic of Korea",
            "Democratic People’s Republic of Korea",
            "Democratic People's Republic of Korea (DPRK)",
            "Korea, Democratic People's Republic of",
            "Korea (Democratic People's Republic of)",
            "North Korea (Democratic People's Republic of Korea)",
        ],
    ),
    (
        "KR",
        "KOR",
        &[
            "Korea, South",
            "South Korea",
            "South Korean",
            "Republic of Korea",
            "Korea, Republic of",
            "Korea (Republic of)",
        ],
    ),
    ("KW", "KWT", &["Kuwait", "Kuwaiti"]),
    ("KY", "CYM", &["Cayman Islands"]),
    ("KZ", "KAZ", &["Kazakhstan", "Kazakh", "Kazakhstani"]),
    ("LA", "LAO", &["Laos", "Lao People's Democratic Republic", "Lao", "Laotian", "Lao PDR"]),
    ("LB", "LBN", &["Lebanon", "Lebanese"]),
    ("LC", "LCA", &["Saint Lucia", "St. Lucia"]),
    ("LI", "LIE", &["Liechtenstein"]),
    ("LK", "LKA", &["Sri Lanka", "Sri Lankan"]),
    ("LR", "LBR", &["Liberia", "Liberian"]),
    ("LS", "LSO", &["Lesotho"]),
    ("LT", "LTU", &["Lithuania", "Lithuanian"]),
    ("LU", "LUX", &["Luxembourg", "Luxembourger", "Luxembourgish"]),
    ("LV", "LVA", &["Latvia", "Latvian"]),
    ("LY", "LBY", &["Libya", "Libyan", "Libyan Arab Jamahiriya"]),
    ("MA", "MAR", &["Morocco", "Moroccan"]),
    ("MC", "MCO", &["Monaco", "Monegasque"]),
    ("MD", "MDA", &["Moldova", "Republic of Moldova", "Moldova, Republic of", "Moldovan"]),
    ("ME", "MNE", &["Montenegro", "Montenegrin"]),
    ("MF", "MAF", &["Saint Martin (French part)", "Saint Martin"]),
    ("MG", "MDG", &["Madagascar", "Malagasy"]),
    ("MH", "MHL", &["Marshall Islands", "Marshallese"]),
    (
        "MK",
        "MKD",
        &[
            "North Macedonia",
            "Macedonia",
            "Macedonian",
            "The former Yugoslav Republic of Macedonia",
            "Macedonia, The Former Yugoslav Republic of",
            "North Macedonia, The Republic of",
            "Republic of North Macedonia",
        ],
    ),
    ("ML", "MLI", &["Mali", "Malian"]),
    ("MM", "MMR", &["Myanmar", "Burma", "Burmese", "Myanmar/Burma", "Myanmar (Burma)", "Burma/Myanmar"]),
    ("MN", "MNG", &["Mongolia", "Mongolian"]),
    ("MO", "MAC", &["Macao", "Macau", "China, Macao Special Administrative Region"]),
    ("MP", "MNP", &["Northern Mariana Islands"]),
    ("MQ", "MTQ", &["Martinique"]),
    ("MR", "MRT", &["Mauritania", "Mauritanian"]),
    ("MS", "MSR", &["Montserrat"]),
    ("MT", "MLT", &["Malta", "Maltese"]),
    ("MU", "MUS", &["Mauritius", "Mauritian"]),
    ("MV", "MDV", &["Maldives", "Maldivian"]),
    ("MW", "MWI", &["Malawi", "Malawian"]),
    ("MX", "MEX", &["Mexico", "Mexican"]),
    ("MY", "MYS", &["Malaysia", "Malaysian"]),
    ("MZ", "MOZ", &["Mozambique", "Mozambican"]),
    ("NA", "NAM", &["Namibia", "Namibian"]),
    ("NC", "NCL", &["New Caledonia"]),
    ("NE", "NER", &["Niger", "Nigerien"]),
    ("NF", "NFK", &["Norfolk Island"]),
    ("NG", "NGA", &["Nigeria", "Nigerian"]),
    ("NI", "NIC", &["Nicaragua", "Nicaraguan"]),
    ("NL", "NLD", &["Netherlands", "The Netherlands", "Holland", "Dutch"]),
    ("NO", "NOR", &["Norway", "Norwegian"]),
    ("NP", "NPL", &["Nepal", "Nepalese", "Nepali"]),
    ("NR", "NRU", &["Nauru"]),
    ("NU", "NIU", &["Niue"]),
    ("NZ", "NZL", &["New Zealand", "New Zealander"]),
    ("OM", "OMN", &["Oman", "Omani", "Sultanate of Oman"]),
    ("PA", "PAN", &["Panama", "Panamanian"]),
    ("PE", "PER", &["Peru", "Peruvian"]),
    ("PF", "PYF", &["French Polynesia"]),
    ("PG", "PNG", &["Papua New Guinea"]),
    ("PH", "PHL", &["Philippines", "Filipino", "Philippine"]),
    ("PK", "PAK", &["Pakistan", "Pakistani"]),
    ("PL", "POL", &["Poland", "Polish"]),
    ("PM", "SPM", &["Saint Pierre and Miquelon"]),
    ("PN", "PCN", &["Pitcairn"]),
    ("PR", "PRI", &["Puerto Rico"]),
    (
        "PS",
        "PSE",
        &[
            "Palestine",
            "State of Palestine",
            "Palestine, State of",
            "Palestinian",
            "Palestinian Territories",
            "Palestinian Territory",
            "Occupied Palestinian Territory",
            "Occupied Palestinian Territories",
            "West Bank",
            "Gaza",
            "Gaza Strip",
            "West Bank and Gaza",
        ],
    ),
    ("PT", "PRT", &["Portugal", "Portuguese"]),
    ("PW", "PLW", &["Palau"]),
    ("PY", "PRY", &["Paraguay", "Paraguayan"]),
    ("QA", "QAT", &["Qatar", "Qatari"]),
    ("RE", "REU", &["Reunion", "Réunion"]),
    ("RO", "ROU", &["Romania", "Romanian"]),
    ("RS", "SRB", &["Serbia", "Serbian"]),
    ("RU", "RUS", &["Russia", "Russian Federation", "Russian", "Russian Federation (the)"]),
    ("RW", "RWA", &["Rwanda", "Rwandan"]),
    ("SA", "SAU", &["Saudi Arabia", "Saudi", "Saudi Arabian", "Kingdom of Saudi Arabia"]),
    ("SB", "SLB", &["Solomon Islands"]),
    ("SC", "SYC", &["Seychelles", "Seychellois"]),
    ("SD", "SDN", &["Sudan", "Sudanese", "Republic of the Sudan"]),
    ("SE", "SWE", &["Sweden", "Swedish"]),
    ("SG", "SGP", &["Singapore", "Singaporean"]),
    ("SH", "SHN", &["Saint Helena", "Saint Helena, Ascension and Tristan da Cunha"]),
    ("SI", "SVN", &["Slovenia", "Slovenian", "Slovene"]),
    ("SJ", "SJM", &["Svalbard and Jan Mayen"]),
    ("SK", "SVK", &["Slovakia", "Slovak", "Slovak Republic"]),
    ("SL", "SLE", &["Sierra Leone", "Sierra Leonean"]),
    ("SM", "SMR", &["San Marino"]),
    ("SN", "SEN", &["Senegal", "Senegalese"]),
    ("SO", "SOM", &["Somalia", "Somali"]),
    ("SR", "SUR", &["Suriname", "Surinamese"]),
    ("SS", "SSD", &["South Sudan", "South Sudanese"]),
    ("ST", "STP", &["Sao Tome and Principe", "São Tomé and Príncipe"]),
    ("SV", "SLV", &["El Salvador", "Salvadoran", "Salvadorean"]),
    ("SX", "SXM", &["Sint Maarten", "Sint Maarten (Dutch part)"]),
    ("SY", "SYR", &["Syria", "Syrian Arab Republic", "Syrian"]),
    ("SZ", "SWZ", &["Eswatini", "Swaziland"]),
    ("TC", "TCA", &["Turks and Caicos Islands"]),
    ("TD", "TCD", &["Chad", "Chadian"]),
    ("TF", "ATF", &["French Southern Territories"]),
    ("TG", "TGO", &["Togo", "Togolese"]),
    ("TH", "THA", &["Thailand", "Thai"]),
    ("TJ", "TJK", &["Tajikistan", "Tajik", "Tajikistani"]),
    ("TK", "TKL", &["Tokelau"]),
    ("TL", "TLS", &["Timor-Leste", "East Timor", "Timorese"]),
    ("TM", "TKM", &["Turkmenistan", "Turkmen"]),
    ("TN", "TUN", &["Tunisia", "Tunisian"]),
    ("TO", "TON", &["Tonga", "Tongan"]),
    ("TR", "TUR", &["Türkiye", "Turkiye", "Turkey", "Turkish"]),
    ("TT", "TTO", &["Trinidad and Tobago", "Trinidadian"]),
    ("TV", "TUV", &["Tuvalu"]),
    ("TW", "TWN", &["Taiwan", "Taiwanese", "Taiwan, Province of China", "Chinese Taipei"]),
    ("TZ", "TZA", &["Tanzania", "United Republic of Tanzania", "Tanzania, United Republic of", "Tanzanian"]),
    ("UA", "UKR", &["Ukraine", "Ukrainian", "Crimea"]),
    ("UG", "UGA", &["Uganda", "Ugandan"]),
    ("UM", "UMI", &["United States Minor Outlying Islands"]),
    ("US", "USA", &["United States", "United States of America", "USA", "U.S.A.", "U.S.", "American", "US citizen"]),
    ("UY", "URY", &["Uruguay", "Uruguayan"]),
    ("UZ", "UZB", &["Uzbekistan", "Uzbek", "Uzbekistani"]),
    ("VA", "VAT", &["Holy See", "Vatican", "Vatican City"]),
    ("VC", "VCT", &["Saint Vincent and the Grenadines", "St. Vincent and the Grenadines"]),
    (
        "VE",
        "VEN",
        &["Venezuela", "Venezuela (Bolivarian Republic of)", "Bolivarian Republic of Venezuela", "Venezuelan"],
    ),
    ("VG", "VGB", &["Virgin Islands, British", "British Virgin Islands", "Virgin Islands (British)"]),
    ("VI", "VIR", &["Virgin Islands, U.S.", "US Virgin Islands", "Virgin Islands (U.S.)"]),
    ("VN", "VNM", &["Viet Nam", "Vietnam", "Vietnamese"]),
    ("VU", "VUT", &["Vanuatu"]),
    ("WF", "WLF", &["Wallis and Futuna"]),
    ("WS", "WSM", &["Samoa", "Samoan"]),
    ("XK", "XKX", &["Kosovo", "Kosovar", "Kosovan"]),
    ("YE", "YEM", &["Yemen", "Yemeni", "Republic of Yemen"]),
    ("YT", "MYT", &["Mayotte"]),
    ("ZA", "ZAF", &["South Africa", "South African"]),
    ("ZM", "ZMB", &["Zambia", "Zambian"]),
    ("ZW", "ZWE", &["Zimbabwe", "Zimbabwean"]),
];

/// Lower-case, accents folded, punctuation to spaces, spaces collapsed, a leading "the" dropped.
fn fold(s: &str) -> String {
    let ascii = deunicode::deunicode(s.trim());
    let mut out = String::with_capacity(ascii.len());
    for c in ascii.chars() {
        if c.is_ascii_alphanumeric() {
            out.push(c.to_ascii_lowercase());
        } else if !out.is_empty() && !out.ends_with(' ') {
            out.push(' ');
        }
    }
    let trimmed = out.trim_end();
    trimmed.strip_prefix("the ").unwrap_or(trimmed).to_string()
}

static INDEX: LazyLock<HashMap<String, &'static str>> = LazyLock::new(|| {
    let mut m = HashMap::new();
    for (a2, a3, names) in COUNTRIES {
        m.insert(a2.to_ascii_lowercase(), *a2);
        m.insert(a3.to_ascii_lowercase(), *a2);
        for n in *names {
            m.insert(fold(n), *a2);
        }
    }
    m
});

/// The ISO alpha-2 code for one country name, code or adjective, or `None`.
///
/// Tries the whole text, then without a `Region:` prefix, parenthesised notes
/// (`Afghanistan (previous address)`) and a trailing period.
pub fn iso2(name: &str) -> Option<&'static str> {
    let s = name.trim().trim_end_matches('.').trim();
    if s.is_empty() {
        return None;
    }
    if let Some(c) = INDEX.get(&fold(s)) {
        return Some(c);
    }
    let s = s.strip_prefix("Region:").map(str::trim).unwrap_or(s);
    // `Saudi Arabia citizenship`, `Iranian national`.
    for suffix in [" citizenship", " national", " citizen"] {
        if let Some(head) = s.strip_suffix(suffix)
            && let Some(c) = INDEX.get(&fold(head))
        {
            return Some(c);
        }
    }
    if let Some(c) = INDEX.get(&fold(s)) {
        return Some(c);
    }
    if let Some(open) = s.find('(') {
        let head = s[..open].trim().trim_end_matches(',');
        if !head.is_empty() {
            return INDEX.get(&fold(head)).copied();
        }
    }
    None
}

/// Resolves country text for one list and counts what it could not resolve, for one debug log
/// line per list instead of one per row.
#[derive(Debug, Default)]
pub struct CountryResolver {
    unknown: BTreeMap<String, usize>,
}

impl CountryResolver {
    pub fn new() -> Self {
        Self::default()
    }

    /// One country; unknown text is counted and skipped.
    pub fn one(&mut self, text: &str) -> Option<&'static str> {
        let t = text.trim();
        if t.is_empty() {
            return None;
        }
        let found = iso2(t);
        if found.is_none() {
            *self.unknown.entry(t.to_string()).or_default() += 1;
        }
        found
    }

    /// A field that may hold several countries: `(1) Somali (2) Swedish`, `Ukrainian, Russian`,
    /// `Syrian/Iranian`, `(a) German, (b) Moroccan`, `Russian and Ukrainian`. The whole text is
    /// tried first so that `Korea, North` or `Bosnia and Herzegovina` stay one country.
    pub fn many(&mut self, text: &str) -> Vec<&'static str> {
        let t = text.trim();
        if t.is_empty() {
            return Vec::new();
        }
        if let Some(c) = iso2(t) {
            return vec![c];
        }
        let mut out: Vec<&'static str> = Vec::new();
        for part in split_list(t) {
            if let Some(c) = self.one(part)
                && !out.contains(&c)
            {
                out.push(c);
            }
        }
        out
    }

    /// Number of distinct unresolved spellings.
    pub fn unknown_count(&self) -> usize {
        self.unknown.len()
    }

    /// One debug line naming the unresolved spellings (the most frequent first, at most 20).
    pub fn log_unknown(&self, list: &str) {
        if self.unknown.is_empty() {
            return;
        }
        let mut v: Vec<(&String, &usize)> = self.unknown.iter().collect();
        v.sort_by(|a, b| b.1.cmp(a.1).then(a.0.cmp(b.0)));
        let sample: Vec<String> = v.iter().take(20).map(|(k, n)| format!("{k:?}x{n}")).collect();
        tracing::debug!(
            list,
            unknown_countries = self.unknown.len(),
            occurrences = self.unknown.values().sum::<usize>(),
            sample = %sample.join(", "),
            "country names not resolved to ISO codes were skipped"
        );
    }
}

/// Splits an enumeration on `(1)`/`(a)` markers, `,`, `;`, `/`, ` and `, ` or `.
fn split_list(t: &str) -> Vec<&str> {
    let b = t.as_bytes();
    let mut parts = Vec::new();
    let (mut start, mut i) = (0, 0);
    while i < b.len() {
        // Enumeration markers like (1), (12), (a), (b). All indices sit on ASCII bytes.
        if b[i] == b'('
            && let Some(close) = t[i..].find(')')
        {
            let inner = &t[i + 1..i + close];
            let is_marker = (!inner.is_empty() && inner.len() <= 2 && inner.bytes().all(|x| x.is_ascii_digit()))
                || (inner.len() == 1 && inner.bytes().all(|x| x.is_ascii_lowercase()));
            if is_marker {
                parts.push(&t[start..i]);
                i += close + 1;
                start = i;
                continue;
            }
        }
        // The same markers without the opening parenthesis: `1) Saudi Arabia 2) Qatar`.
        if b[i] == b')' {
            let token_start = t[..i].rfind(' ').map_or(0, |p| p + 1).max(start);
            let token = &t[token_start..i];
            let is_marker = (!token.is_empty() && token.len() <= 2 && token.bytes().all(|x| x.is_ascii_digit()))
                || (token.len() == 1 && token.bytes().all(|x| x.is_ascii_lowercase()));
            if is_marker {
                parts.push(&t[start..token_start]);
                i += 1;
                start = i;
                continue;
            }
        }
        if matches!(b[i], b',' | b';' | b'/') {
            parts.push(&t[start..i]);
            i += 1;
            start = i;
            continue;
        }
        if b[i] == b' ' {
            let rest = &b[i..];
            let sep = [&b" and "[..], &b" or "[..]]
                .into_iter()
                .find(|sep| rest.len() >= sep.len() && rest[..sep.len()].eq_ignore_ascii_case(sep));
            if let Some(sep) = sep {
                parts.push(&t[start..i]);
                i += sep.len();
                start = i;
                continue;
            }
        }
        i += 1;
    }
    parts.push(&t[start..]);
    parts.into_iter().map(str::trim).filter(|p| !p.is_empty()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn list_spellings_resolve() {
        for (name, code) in [
            ("Iran", "IR"),
            ("Iran (Islamic Republic of)", "IR"),
            ("Korea, North", "KP"),
            ("Democratic People's Republic of Korea", "KP"),
            ("DPRK", "KP"),
            ("Russian Federation", "RU"),
            ("Syrian Arab Republic", "SY"),
            ("Congo, Democratic Republic of the", "CD"),
            ("Democratic Republic of the Congo", "CD"),
            ("Viet Nam", "VN"),
            ("United Kingdom", "GB"),
            ("United Kingdom of Great Britain and Northern Ireland", "GB"),
            ("Türkiye", "TR"),
            ("Turkey", "TR"),
            ("Palestinian", "PS"),
            ("West Bank", "PS"),
            ("Region: Gaza", "PS"),
            ("Iranian", "IR"),
            ("Russian", "RU"),
            ("Syrian", "SY"),
            ("Afghan", "AF"),
            ("American", "US"),
            ("ru", "RU"),
            ("IRQ", "IQ"),
            ("Cote d Ivoire", "CI"),
            ("Bahamas, The", "BS"),
            ("The Gambia", "GM"),
            ("Virgin Islands, British", "VG"),
            ("Afghanistan (previous address)", "AF"),
            ("Egypt.", "EG"),
            ("China, Hong Kong Special Administrative Region", "HK"),
            ("Kosovo", "XK"),
            ("Burma", "MM"),
            ("Man, Isle of", "IM"),
            ("North Macedonia, The Republic of", "MK"),
            ("St. Kitts & Nevis", "KN"),
        ] {
            assert_eq!(iso2(name), Some(code), "{name}");
        }
        for unknown in ["Congolese", "former Soviet Union", "undetermined", "Netherlands Antilles", ""] {
            assert_eq!(iso2(unknown), None, "{unknown}");
        }
    }

    #[test]
    fn enumerations_split_and_unknowns_count() {
        let mut r = CountryResolver::new();
        assert_eq!(r.many("(1) Somali (2) Swedish"), ["SO", "SE"]);
        assert_eq!(r.many("Ukrainian, Russian"), ["UA", "RU"]);
        assert_eq!(r.many("Russian and Ukrainian"), ["RU", "UA"]);
        assert_eq!(r.many("Syrian/Iranian"), ["SY", "IR"]);
        assert_eq!(r.many("(a) German, (b) Moroccan"), ["DE", "MA"]);
        assert_eq!(r.many("Bosnia and Herzegovina"), ["BA"]);
        assert_eq!(r.many("1) Saudi Arabia 2) Qatar"), ["SA", "QA"]);
        assert_eq!(r.many("a) Syrian Arab Republic b) State of Palestine"), ["SY", "PS"]);
        assert_eq!(r.many("Saudi Arabia citizenship"), ["SA"]);
        assert_eq!(r.many("Korea, North"), ["KP"]);
        assert_eq!(r.one("Atlantis"), None);
        assert_eq!(r.unknown_count(), 1);
    }

    proptest! {
        #[test]
        fn never_panics(t in "\\PC*") {
            let mut r = CountryResolver::new();
            let _ = r.many(&t);
            let _ = iso2(&t);
        }
    }
}

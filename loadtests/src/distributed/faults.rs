//! Test only: a worker that drops, repeats or sends late some of its reports, so an
//! integration test with real processes can show that none of these changes a total.
//!
//! `SKEIN_TEST_REPORT_FAULTS="drop@3,repeat@5,reorder@7"`: report 3 is never sent, report 5
//! is sent twice, report 7 is held back and sent after report 8. Not for real runs: it only
//! makes the worker's reports worse. Read once, when the worker starts.
use std::collections::BTreeMap;

pub const FAULTS_ENV: &str = "SKEIN_TEST_REPORT_FAULTS";

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fault {
    Drop,
    Repeat,
    Reorder,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("{FAULTS_ENV}: `{0}` is not drop@N, repeat@N or reorder@N (N a report number)")]
pub struct FaultsError(String);

/// Faults by report sequence number; empty for a real run.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ReportFaults(BTreeMap<u64, Fault>);

impl ReportFaults {
    pub fn from_env() -> Result<ReportFaults, FaultsError> {
        std::env::var(FAULTS_ENV).map_or(Ok(ReportFaults::default()), |v| v.parse())
    }

    pub fn at(&self, seq: u64) -> Option<Fault> {
        self.0.get(&seq).copied()
    }
}

impl std::str::FromStr for ReportFaults {
    type Err = FaultsError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let mut faults = BTreeMap::new();
        for item in text.split(',').map(str::trim).filter(|i| !i.is_empty()) {
            let bad = || FaultsError(item.to_string());
            let (kind, seq) = item.split_once('@').ok_or_else(bad)?;
            let fault = match kind {
                "drop" => Fault::Drop,
                "repeat" => Fault::Repeat,
                "reorder" => Fault::Reorder,
                _ => return Err(bad()),
            };
            faults.insert(seq.parse().map_err(|_| bad())?, fault);
        }
        Ok(ReportFaults(faults))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_faults_by_report_number_and_names_a_bad_one() {
        let f: ReportFaults = "drop@3, repeat@5,reorder@7".parse().unwrap();
        assert_eq!(f.at(3), Some(Fault::Drop));
        assert_eq!(f.at(5), Some(Fault::Repeat));
        assert_eq!(f.at(7), Some(Fault::Reorder));
        assert_eq!(f.at(4), None);
        assert_eq!("".parse::<ReportFaults>().unwrap(), ReportFaults::default());
        let e = "lose@3".parse::<ReportFaults>().unwrap_err().to_string();
        assert!(e.contains("`lose@3`"), "{e}");
        assert!("drop@x".parse::<ReportFaults>().is_err());
    }
}

//! What a user keeps for one LLM request between its sends: its token-shaped stream, and the
//! chat so far when the request's conversations have several turns (`turns`), so each turn
//! sends the previous turns' user messages and the assistant's actual answers.
use serde_json::Value;

use super::dataset::{Dataset, Row};
use super::shape::{ShapeState, TokenShape};
use super::tokenizer::TokenCounter;

/// One user's state for one request.
pub struct LlmUser {
    pub shape: Option<ShapeState>,
    /// The messages of this conversation's earlier turns, answers included.
    history: Vec<Value>,
    /// Turns sent in this conversation (0: the next send starts a new one).
    turn: u32,
    /// The dataset row this conversation follows.
    row: Option<usize>,
    /// The user message of the turn in flight.
    sent: Option<Value>,
}

/// The user message of a turn: a text, or a whole messages array (a dataset's `messages` row,
/// or the request's `messages` template).
pub enum Said {
    Text(String),
    Messages(Value),
}

impl LlmUser {
    pub fn new(shape: Option<&TokenShape>, tokenizer: Option<&TokenCounter>) -> LlmUser {
        LlmUser {
            shape: shape.map(|s| s.start(tokenizer)),
            history: Vec::new(),
            turn: 0,
            row: None,
            sent: None,
        }
    }

    /// This turn's row of `dataset` (a new conversation takes the next row) and which of its
    /// user turns is due: `(text, output tokens)` or the row's messages.
    pub fn dataset_turn<'d>(&mut self, dataset: &'d Dataset) -> (&'d Row, usize) {
        if self.turn == 0 || self.row.is_none() {
            self.row = Some(dataset.next_index());
        }
        let row = &dataset.rows[self.row.expect("taken")];
        (row, self.turn as usize)
    }

    /// The messages to send for this turn: the history, then what the user says now.
    pub fn messages(&mut self, said: Said, turns: u32) -> Value {
        match said {
            Said::Messages(all) => {
                self.sent = None;
                all
            }
            Said::Text(text) => {
                let message = serde_json::json!({ "role": "user", "content": text });
                if turns <= 1 {
                    return Value::Array(vec![message]);
                }
                let mut all = self.history.clone();
                all.push(message.clone());
                self.sent = Some(message);
                Value::Array(all)
            }
        }
    }

    /// The answer to the turn in flight (`None`: it failed, and the conversation starts
    /// again); after `turns` turns, or the last user turn of its row (`last`), it ends.
    pub fn answered(&mut self, answer: Option<&str>, turns: u32, last: bool) {
        let sent = self.sent.take();
        let Some(text) = answer else {
            return self.restart();
        };
        if let Some(sent) = sent {
            self.history.push(sent);
            self.history
                .push(serde_json::json!({ "role": "assistant", "content": text }));
        }
        self.turn += 1;
        if self.turn >= turns || last {
            self.restart();
        }
    }

    fn restart(&mut self) {
        self.history.clear();
        self.turn = 0;
        self.row = None;
    }
}

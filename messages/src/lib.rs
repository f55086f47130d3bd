//! WeCom wire formats: callback crypto, inbound messages, passive replies and outbound API clients.

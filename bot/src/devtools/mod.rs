//! Everything that exists for trying and measuring the bot rather than serving: no serving code
//! uses it, only the `chat`, `bench` and `rehearse` subcommands and the tests. `simulator` is a
//! local fake of WeCom's API, `callback_client` signs and encrypts callbacks like WeCom, `local`
//! makes settings for a bot on this machine, `chat` is the console of `rallybot chat`, `bench`
//! the load generator of `rallybot bench`, `rehearse` the season of `rallybot rehearse`.

pub mod bench;
pub mod callback_client;
pub mod chat;
pub mod local;
pub mod rehearse;
pub mod simulator;

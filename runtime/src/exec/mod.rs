//! Executors: they deliver events to components; they never compute physics.

pub mod reference;

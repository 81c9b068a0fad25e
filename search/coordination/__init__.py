"""What workers on one or many machines share: storage, the study lock, heartbeats, the
budgets of trials and epochs, the devices each worker gets, and how interrupts are handled."""

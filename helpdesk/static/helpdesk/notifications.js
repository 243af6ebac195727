// A new conversation plays a short sound and, if the agent allowed it, shows a browser notification.

export class Notifier {
  constructor(button) {
    this.button = button;
    if (button && "Notification" in window && Notification.permission === "default") {
      button.hidden = false;
      button.addEventListener("click", async () => {
        await Notification.requestPermission();
        button.hidden = true;
      });
    }
  }

  beep() {
    try {
      this.audio = this.audio || new AudioContext();
      const oscillator = this.audio.createOscillator();
      const gain = this.audio.createGain();
      oscillator.frequency.value = 880;
      gain.gain.setValueAtTime(0.15, this.audio.currentTime);
      gain.gain.exponentialRampToValueAtTime(0.001, this.audio.currentTime + 0.3);
      oscillator.connect(gain).connect(this.audio.destination);
      oscillator.start();
      oscillator.stop(this.audio.currentTime + 0.3);
    } catch {
      // No sound before the agent has interacted with the page: the browser's autoplay rule.
    }
    document.body.dataset.lastSound = String(Date.now());
  }

  show(title, body, url) {
    if (!("Notification" in window) || Notification.permission !== "granted") return;
    const notification = new Notification(title, { body, tag: url });
    notification.addEventListener("click", () => {
      window.focus();
      if (url) window.location.href = url;
    });
  }

  newConversation(title, conversationId) {
    this.beep();
    this.show(title, "", `/conversations/${conversationId}/`);
  }
}

@file:Suppress("unused", "UNUSED_PARAMETER")

package androidx.lifecycle

open class AndroidViewModel(private val app: android.app.Application) {
    @Suppress("UNCHECKED_CAST")
    fun <T : android.app.Application> getApplication(): T = app as T
    protected open fun onCleared() {}
}

open class LiveData<T>(initial: T?) {
    @Volatile protected var v: T? = initial
    fun getValue(): T? = v
}

class MutableLiveData<T>(initial: T) : LiveData<T>(initial) {
    fun postValue(value: T) { v = value }
}
